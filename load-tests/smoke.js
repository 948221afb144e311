// k6 smoke test: a few virtual users send one-event /track requests to the demo source.
//   k6 run -e SLUICE_URL=http://127.0.0.1:8686 load-tests/smoke.js
import http from 'k6/http';
import { check } from 'k6';

const url = `${__ENV.SLUICE_URL || 'http://127.0.0.1:8686'}/track`;

export const options = {
  vus: Number(__ENV.VUS || 2),
  duration: __ENV.DURATION || '3s',
  thresholds: {
    http_req_failed: ['rate==0'],
    checks: ['rate==1'],
  },
};

export default function () {
  const body = JSON.stringify({
    source: { id: __ENV.SOURCE_ID || 'demo' },
    session: { id: `k6-${__VU}` },
    events: [{ type: 'page-view', properties: { url: 'https://example.com/k6', iteration: __ITER } }],
  });
  const response = http.post(url, body, { headers: { 'content-type': 'application/json' } });
  check(response, {
    'status is 200': (r) => r.status === 200,
    'profile id returned': (r) => typeof r.json('profile.id') === 'string',
  });
}
