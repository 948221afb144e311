// Maps k6's built-in modules to the shims in ./k6/ for scripts loaded in this process
// (Node's synchronous module.registerHooks); any other k6 module, or a remote import such as
// jslib.k6.io, fails by name.
import { registerHooks } from 'node:module';
import { K6CompatError } from './state.ts';

const SHIMS: Record<string, string> = {
  k6: new URL('./k6/k6.ts', import.meta.url).href,
  'k6/http': new URL('./k6/http.ts', import.meta.url).href,
  'k6/metrics': new URL('./k6/metrics.ts', import.meta.url).href,
};

let registered = false;

/** Registers the hooks once per process. */
export function registerK6Modules(): void {
  if (registered) return;
  registered = true;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const shim = SHIMS[specifier];
      if (shim !== undefined) return { url: shim, shortCircuit: true };
      if (specifier === 'k6' || specifier.startsWith('k6/') || /^https?:/.test(specifier)) {
        throw new K6CompatError(`module ${specifier} (imported by ${context.parentURL ?? 'the script'}) is not supported by the compatibility runner (scripts/load/compat supports ${Object.keys(SHIMS).join(', ')})`);
      }
      return nextResolve(specifier, context);
    },
  });
}
