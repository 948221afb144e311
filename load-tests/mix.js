// k6 load test. A realistic mix: hot and cold sources and users, batches of 1, 5 and 20, /track and Segment /v1/batch.
// The scenario is data (scenarios/mix.json, shapes in scenarios/templates.json); see docs/sizing.md.
//   k6 run -e SLUICE_URL=http://127.0.0.1:8686 -e SOURCE_IDS=demo load-tests/mix.js
// Writes mix-summary.json (SUMMARY_PATH) in the sluice-load-summary/1 shape.
import { scenarioTest } from './lib/k6.js';

const test = scenarioTest(JSON.parse(open('./scenarios/mix.json')), JSON.parse(open('./scenarios/templates.json')), __ENV);

export const options = test.options;
export default test.iteration;
export const handleSummary = test.handleSummary;
