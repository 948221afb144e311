import { redactValue, textRedactor } from '@sluice/observability';
import type { Config, Environment } from './load.ts';
import type { EnvSpec } from './spec.ts';
import { SPECS } from './specs.ts';

/** User info inside URLs, `//user:password@`, up to the last `@` before the host. */
const URL_USER_INFO = /\/\/([^\s/?#]*)@/g;

/**
 * Every secret value in the environment, for masking wherever it might appear: the value of
 * each setting marked `secret`, and the credentials embedded in any setting's URLs (the whole
 * user info and its password, as written and percent-decoded).
 */
export function secretValues(environment: Environment = process.env): string[] {
  const secrets = new Set<string>();
  for (const spec of Object.values(SPECS) as EnvSpec<unknown>[]) {
    const value = environment[spec.name]?.trim();
    if (value === undefined || value === '') continue;
    if (spec.secret === true) secrets.add(value);
    for (const [, userInfo = ''] of value.matchAll(URL_USER_INFO)) {
      const password = userInfo.slice(userInfo.indexOf(':') + 1);
      for (const part of [userInfo, password]) {
        if (part === '') continue;
        secrets.add(part);
        secrets.add(safeDecode(part));
      }
    }
  }
  return [...secrets];
}

/**
 * The configuration as it may be shown (`sluice config check`): secret settings replaced by
 * `[redacted]` (unset ones stay absent), URL credentials by `***`, and any secret value masked
 * wherever else it appears.
 */
export function redactedConfig(config: Config, environment: Environment = process.env): unknown {
  return redactValue(config, textRedactor(secretValues(environment)));
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
