// k6 load test. Soak: a constant arrival rate for 30 minutes, one- and five-event /track requests.
// The scenario is data (scenarios/soak.json, shapes in scenarios/templates.json); see docs/sizing.md.
//   k6 run -e SLUICE_URL=http://127.0.0.1:8686 -e SOURCE_IDS=demo load-tests/soak.js
// Writes soak-summary.json (SUMMARY_PATH) in the sluice-load-summary/1 shape.
import { scenarioTest } from './lib/k6.js';

const test = scenarioTest(JSON.parse(open('./scenarios/soak.json')), JSON.parse(open('./scenarios/templates.json')), __ENV);

export const options = test.options;
export default test.iteration;
export const handleSummary = test.handleSummary;
