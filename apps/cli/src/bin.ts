#!/usr/bin/env node
import { buildProgram } from './program.ts';

buildProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    process.stderr.write(`sluice: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
