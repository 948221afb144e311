// Regenerates the docs that are derived from code: docs/configuration.md and docs/errors.md.
import { writeFileSync } from 'node:fs';
import { renderConfigurationDoc } from '@sluice/config';
import { renderErrorsDoc } from '@sluice/core';

writeFileSync('docs/configuration.md', renderConfigurationDoc());
writeFileSync('docs/errors.md', renderErrorsDoc());
process.stdout.write('wrote docs/configuration.md and docs/errors.md\n');
