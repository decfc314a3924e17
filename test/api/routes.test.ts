// Health, metrics, OpenAPI, the graph and diagnoses: status codes, response shapes,
// paging, validation messages and error bodies, against a sidecar fed with a recorded
// cpu incident at the ranker.

import { startSidecar, type Sidecar } from './helpers';

let sc: Sidecar;
beforeAll(async () => {
  sc = await startSidecar();
});
afterAll(async () => {
  await sc?.close();
});

function expectError(res: { statusCode: number; json(): any }, status: number, code?: string, message?: RegExp) {
  expect(res.statusCode).toBe(status);
  const body = res.json();
  expect(typeof body.error?.code).toBe('string');
  expect(typeof body.error?.message).toBe('string');
  if (code) expect(body.error.code).toBe(code);
  if (message) expect(body.error.message).toMatch(message);
  expect(JSON.stringify(body)).not.toMatch(/\n\s+at /); // no stack
}

describe('ops routes', () => {
  test('healthz and readyz', async () => {
    const h = await sc.app.inject('/healthz');
    expect(h.statusCode).toBe(200);
    expect(h.json().status).toBe('ok');
    const r = await sc.app.inject('/readyz');
    expect(r.statusCode).toBe(200);
    expect(r.json().components.map((c: any) => c.component)).toEqual(expect.arrayContaining(['state', 'otlp-http']));
  });

  test('readyz is 503 when a required component failed, 200 when degraded or an optional one failed', async () => {
    sc.health.push({ component: 'prometheus:x', status: 'degraded', message: 'slow' });
    expect((await sc.app.inject('/readyz')).statusCode).toBe(200);
    sc.health.push({ component: 'host', status: 'failed', message: 'no /proc', required: false });
    expect((await sc.app.inject('/readyz')).statusCode).toBe(200);
    sc.health.push({ component: 'otlp-grpc', status: 'failed', message: 'port in use' });
    const r = await sc.app.inject('/readyz');
    expect(r.statusCode).toBe(503);
    expect(r.json().status).toBe('not_ready');
    expect(r.json().components).toContainEqual({ component: 'otlp-grpc', status: 'failed', message: 'port in use' });
    sc.health.splice(1);
  });

  test('metrics are Prometheus text with the store gauges updated on scrape', async () => {
    const r = await sc.app.inject('/metrics');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/text\/plain/);
    const spans = sc.store.stats().spans;
    expect(spans).toBeGreaterThan(0);
    expect(r.body).toContain(`faultline_store_items{signal="spans"} ${spans}`);
    expect(r.body).toMatch(/faultline_component_up\{component="state"\} 1/);
  });

  test('openapi.json lists every versioned route; /docs is served locally', async () => {
    const r = await sc.app.inject('/openapi.json');
    expect(r.statusCode).toBe(200);
    const doc = r.json();
    expect(doc.openapi).toMatch(/^3\./);
    for (const p of ['/healthz', '/readyz', '/api/v1/graph', '/api/v1/anomalies', '/api/v1/diagnoses', '/api/v1/diagnoses/{id}', '/api/v1/incidents', '/api/v1/incidents/{id}/archive', '/api/v1/incidents/replay', '/api/v1/events']) {
      expect(doc.paths).toHaveProperty([p]);
    }
    expect(doc.paths['/api/v1/diagnoses'].post.requestBody).toBeDefined();
    const docs = await sc.app.inject('/docs/');
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toMatch(/swagger/i);
    expect(docs.body).not.toMatch(/https?:\/\/(unpkg|cdn|cdnjs)/);
  });

  test('unknown route is a JSON 404', async () => {
    expectError(await sc.app.inject('/api/v1/nope'), 404, 'not_found', /GET \/api\/v1\/nope/);
  });
});

describe('diagnoses', () => {
  let first: any;

  test('POST runs a diagnosis now, persists it and publishes it', async () => {
    const seen: string[] = [];
    const off = sc.events.on('diagnosis', (e) => seen.push(e.diagnosis.id));
    const r = await sc.app.inject({ method: 'POST', url: '/api/v1/diagnoses', payload: { lastMinutes: 5 } });
    off();
    expect(r.statusCode).toBe(201);
    first = r.json();
    expect(r.headers.location).toBe(`/api/v1/diagnoses/${first.id}`);
    expect(first.causes[0].service).toBe('ranker');
    expect(first.causes[0].evidence.length).toBeGreaterThan(0);
    expect(first.propagationPath[0]).toBe('ranker');
    expect(typeof first.explanation).toBe('string');
    expect(first.timing.spans).toBeGreaterThan(0);
    // The window is clamped to the telemetry held, counted back from its newest point.
    const range = sc.store.timeRange()!;
    expect(first.window).toEqual({ fromMs: range.fromMs, toMs: range.toMs + 1 });
    expect(seen).toEqual([first.id]);
    const got = await sc.app.inject(`/api/v1/diagnoses/${first.id}`);
    expect(got.statusCode).toBe(200);
    expect(got.json()).toEqual(first);
  });

  test('POST with an explicit window and maxCauses', async () => {
    const range = sc.store.timeRange()!;
    const r = await sc.app.inject({ method: 'POST', url: '/api/v1/diagnoses', payload: { fromMs: range.fromMs, toMs: range.toMs + 1, maxCauses: 2 } });
    expect(r.statusCode).toBe(201);
    expect(r.json().causes.length).toBeLessThanOrEqual(2);
  });

  test('POST reads a sample of whole traces when the window holds more than maxDiagnosisSpans', async () => {
    const small = await startSidecar({ config: { maxDiagnosisSpans: 1000 } });
    try {
      const r = await small.app.inject({ method: 'POST', url: '/api/v1/diagnoses', payload: { lastMinutes: 5 } });
      expect(r.statusCode).toBe(201);
      const d = r.json();
      expect(small.store.stats().spans).toBeGreaterThan(2000);
      expect(d.timing.sampledTraces).toBeGreaterThan(0.2);
      expect(d.timing.sampledTraces).toBeLessThan(0.6);
      expect(d.timing.spans).toBeLessThan(1500);
      expect(d.summary).toMatch(/% of the window's traces, sampled whole/);
      // Whole traces keep the structure the analysis needs: the answer stands.
      expect(d.causes[0].service).toBe('ranker');
    } finally {
      await small.close();
    }
  });

  test('the graph from a sample of whole traces reports counts scaled back to the whole window', async () => {
    const small = await startSidecar({ config: { maxDiagnosisSpans: 1000 } });
    try {
      const full = (await sc.app.inject('/api/v1/graph?lastMinutes=60')).json();
      const sampled = (await small.app.inject('/api/v1/graph?lastMinutes=60')).json();
      expect(full.sampledTraces).toBeUndefined();
      expect(sampled.sampledTraces).toBeGreaterThan(0.2);
      expect(sampled.sampledTraces).toBeLessThan(0.6);
      const calls = (g: { nodes: Array<{ service: string; stats: { calls: number } }> }, s: string) => g.nodes.find((n) => n.service === s)!.stats.calls;
      // A uniform sample of traces, scaled up, is within sampling error of the true count.
      expect(calls(sampled, 'gateway')).toBeGreaterThan(0.7 * calls(full, 'gateway'));
      expect(calls(sampled, 'gateway')).toBeLessThan(1.3 * calls(full, 'gateway'));
    } finally {
      await small.close();
    }
  });

  test('GET an absent diagnosis is a JSON 404', async () => {
    expectError(await sc.app.inject('/api/v1/diagnoses/dg-missing'), 404, 'not_found', /dg-missing/);
  });

  test.each([
    [{}, /lastMinutes/],
    [{ lastMinutes: -1 }, /lastMinutes/],
    [{ lastMinutes: 'ten' }, /lastMinutes/],
    [{ fromMs: 5 }, /together/],
    [{ fromMs: 10, toMs: 5 }, /after fromMs/],
    [{ lastMinutes: 5, fromMs: 1, toMs: 2 }, /not both/],
    [{ lastMinutes: 5, colour: 'red' }, /additional properties/],
  ])('POST %j is a 400 saying what is wrong', async (payload, message) => {
    expectError(await sc.app.inject({ method: 'POST', url: '/api/v1/diagnoses', payload }), 400, 'validation', message);
  });

  test('malformed JSON is 400, a non-JSON type 415, an oversized body 413', async () => {
    expectError(await sc.app.inject({ method: 'POST', url: '/api/v1/diagnoses', payload: '{"lastMinutes": ', headers: { 'content-type': 'application/json' } }), 400, 'malformed_body');
    expectError(await sc.app.inject({ method: 'POST', url: '/api/v1/diagnoses', payload: 'lastMinutes=5', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type');
    const big = JSON.stringify({ lastMinutes: 5, pad: 'x'.repeat(100 * 1024) });
    expectError(await sc.app.inject({ method: 'POST', url: '/api/v1/diagnoses', payload: big, headers: { 'content-type': 'application/json' } }), 413, 'body_too_large');
  });

  test('a window with no telemetry is 422', async () => {
    expectError(await sc.app.inject({ method: 'POST', url: '/api/v1/diagnoses', payload: { fromMs: 1000, toMs: 2000 } }), 422, 'no_data');
  });

  test('list pages with limit + cursor, newest first, and filters on time', async () => {
    for (let i = 0; i < 3; i++) expect((await sc.app.inject({ method: 'POST', url: '/api/v1/diagnoses', payload: { lastMinutes: 5 } })).statusCode).toBe(201);
    const all = (await sc.app.inject('/api/v1/diagnoses?limit=500')).json();
    expect(all.items.length).toBe(5);
    expect(all.nextCursor).toBeUndefined();
    const ids: string[] = [];
    let url = '/api/v1/diagnoses?limit=2';
    for (let pages = 0; pages < 10; pages++) {
      const page = (await sc.app.inject(url)).json();
      ids.push(...page.items.map((d: any) => d.id));
      if (!page.nextCursor) break;
      url = `/api/v1/diagnoses?limit=2&cursor=${encodeURIComponent(page.nextCursor)}`;
    }
    expect(ids).toEqual(all.items.map((d: any) => d.id));
    const created = all.items.map((d: any) => d.createdAtMs);
    expect([...created].sort((a: number, b: number) => b - a)).toEqual(created);
    expect(all.items[all.items.length - 1]).toMatchObject({ id: first.id, source: 'api', detected: true, rootCause: { service: 'ranker' } });

    const since = created[1];
    const filtered = (await sc.app.inject(`/api/v1/diagnoses?since=${since}&until=${created[0]}`)).json();
    for (const d of filtered.items) expect(d.createdAtMs >= since && d.createdAtMs < created[0]).toBe(true);

    expectError(await sc.app.inject('/api/v1/diagnoses?cursor=bogus'), 400, 'bad_cursor');
    expectError(await sc.app.inject('/api/v1/diagnoses?limit=0'), 400, 'validation', /limit/);
    expectError(await sc.app.inject('/api/v1/diagnoses?limit=abc'), 400, 'validation', /limit/);
  });

  test('an analyzer failure is a 500 without internals', async () => {
    const snapshot = sc.store.snapshot.bind(sc.store);
    sc.store.snapshot = () => {
      throw new Error('secret internal detail /home/x');
    };
    try {
      const r = await sc.app.inject({ method: 'POST', url: '/api/v1/diagnoses', payload: { lastMinutes: 5 } });
      expectError(r, 500, 'internal');
      expect(r.body).not.toContain('secret internal detail');
    } finally {
      sc.store.snapshot = snapshot;
    }
  });
});

describe('graph', () => {
  test('services and edges with stats, coloured from the latest diagnosis', async () => {
    const r = await sc.app.inject('/api/v1/graph?lastMinutes=5');
    expect(r.statusCode).toBe(200);
    const g = r.json();
    const services = g.nodes.map((n: any) => n.service);
    const snapServices = new Set(sc.store.snapshot(0, Infinity).spans.map((s) => s.service));
    for (const s of snapServices) expect(services).toContain(s);
    expect(g.rootCause).toBe('ranker');
    const ranker = g.nodes.find((n: any) => n.service === 'ranker');
    expect(ranker.health).toBe('critical');
    expect(ranker.stats.calls).toBeGreaterThan(0);
    expect(ranker.stats.p95Ms).toBeGreaterThan(0);
    // The services the symptom travelled through are warned about.
    const d = sc.state.latestDiagnosis()!;
    for (const s of d.propagationPath.slice(1)) expect(g.nodes.find((n: any) => n.service === s)?.health).toBe('warning');
    const edge = g.edges.find((e: any) => e.to === 'ranker');
    expect(edge).toBeDefined();
    expect(edge.stats.calls).toBeGreaterThan(0);
  });

  test('a chosen diagnosis; an unknown one is 404; bad query is 400', async () => {
    const id = sc.state.latestDiagnosis()!.id;
    expect((await sc.app.inject(`/api/v1/graph?diagnosisId=${id}`)).json().diagnosisId).toBe(id);
    expectError(await sc.app.inject('/api/v1/graph?diagnosisId=nope'), 404, 'not_found');
    expectError(await sc.app.inject('/api/v1/graph?lastMinutes=0'), 400, 'validation', /lastMinutes/);
    expectError(await sc.app.inject('/api/v1/graph?bogus=1'), 400, 'validation');
  });

  test('anomalies list is empty before the watcher found any', async () => {
    const r = await sc.app.inject('/api/v1/anomalies');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ items: [] });
  });
});
