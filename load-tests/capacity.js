// k6 load test. Capacity: a rising arrival rate of one-event /track requests, each level held 60 s, aborted when p99 or the error rate breaks its threshold.
// The scenario is data (scenarios/capacity.json, shapes in scenarios/templates.json); see docs/sizing.md.
//   k6 run -e SLUICE_URL=http://127.0.0.1:8686 -e SOURCE_IDS=demo load-tests/capacity.js
// Writes capacity-summary.json (SUMMARY_PATH) in the sluice-load-summary/1 shape.
import { scenarioTest } from './lib/k6.js';

const test = scenarioTest(JSON.parse(open('./scenarios/capacity.json')), JSON.parse(open('./scenarios/templates.json')), __ENV);

export const options = test.options;
export default test.iteration;
export const handleSummary = test.handleSummary;
