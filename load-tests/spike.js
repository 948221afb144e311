// k6 load test. Spike: a base rate, eight times it for a minute, then the base again.
// The scenario is data (scenarios/spike.json, shapes in scenarios/templates.json); see docs/sizing.md.
//   k6 run -e SLUICE_URL=http://127.0.0.1:8686 -e SOURCE_IDS=demo load-tests/spike.js
// Writes spike-summary.json (SUMMARY_PATH) in the sluice-load-summary/1 shape.
import { scenarioTest } from './lib/k6.js';

const test = scenarioTest(JSON.parse(open('./scenarios/spike.json')), JSON.parse(open('./scenarios/templates.json')), __ENV);

export const options = test.options;
export default test.iteration;
export const handleSummary = test.handleSummary;
