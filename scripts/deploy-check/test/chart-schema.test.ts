// The chart's values schema names Sluice's settings by their real env variables: `config`
// takes every non-secret setting the chart does not set itself, and nothing else.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { SPECS } from '@sluice/config';

const schema = JSON.parse(readFileSync(resolve(__dirname, '../../../deploy/helm/sluice/values.schema.json'), 'utf8')) as {
  properties: { config: { propertyNames: { enum: string[] } } };
};
/** Set by the chart itself (the pod's address, its data volume, one Elasticsearch user per deployable). */
const CHART_SET = ['HOST', 'PORT', 'DATA_DIR', 'ELASTIC_HTTP_AUTH_USERNAME'];

describe('values.schema.json', () => {
  it('accepts under `config` exactly the non-secret settings the chart does not set itself', () => {
    const allowed = schema.properties.config.propertyNames.enum;
    const settings = Object.values(SPECS).filter((spec) => !('secret' in spec && spec.secret)).map((spec) => spec.name);
    const expected = settings.filter((name) => !CHART_SET.includes(name));
    expect([...allowed].sort()).toEqual(expected.sort());
  });

  it('refuses every secret under `config`', () => {
    const secrets = Object.values(SPECS).filter((spec) => 'secret' in spec && spec.secret).map((spec) => spec.name);
    expect(secrets.length).toBeGreaterThan(0);
    expect(schema.properties.config.propertyNames.enum.filter((name) => secrets.includes(name))).toEqual([]);
  });
});
