/**
 * Sends one /track request for `profile` with events of the given ids (source `demo`,
 * session `s-<profile>`); resolves with the HTTP status, 0 when the request failed.
 */
export async function trackEvents(url: string, profile: string, eventIds: readonly string[], type = 'test-event'): Promise<number> {
  const response = await fetch(`${url}/track`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ source: { id: 'demo' }, session: { id: `s-${profile}` }, profile: { id: profile }, events: eventIds.map((id) => ({ id, type, properties: { id } })) }),
  }).catch(() => undefined);
  await response?.arrayBuffer();
  return response?.status ?? 0;
}

/** Every stored event id of `profile`, through the read API (all pages), newest first. */
export async function profileEventIds(url: string, profile: string, adminToken: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const response = await fetch(`${url}/v1/profiles/${profile}/events?limit=1000${cursor === undefined ? '' : `&cursor=${cursor}`}`, { headers: { authorization: `Bearer ${adminToken}` } });
    const page = (await response.json()) as { events: { id: string }[]; next?: string };
    ids.push(...page.events.map((event) => event.id));
    cursor = page.next;
  } while (cursor !== undefined);
  return ids;
}
