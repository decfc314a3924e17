// Who may call what: the bearer token for mutating routes (and reads when configured),
// and the no-token rule (mutations only on a loopback listener, with a loopback Host).

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSidecar, type Sidecar } from './helpers';

const post = (sc: Sidecar, headers: Record<string, string> = {}) =>
  sc.app.inject({ method: 'POST', url: '/api/v1/diagnoses', payload: { lastMinutes: 5 }, headers });

describe('with a token', () => {
  let sc: Sidecar;
  beforeAll(async () => {
    sc = await startSidecar({ config: { token: 's3cret-token' } });
  });
  afterAll(async () => sc?.close());

  test('mutating routes need it: missing or wrong is 401, right is accepted', async () => {
    const none = await post(sc);
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(none.json().error.code).toBe('unauthorized');
    expect((await post(sc, { authorization: 'Bearer wrong' })).statusCode).toBe(401);
    expect((await post(sc, { authorization: 'Bearer s3cret-token-and-more' })).statusCode).toBe(401);
    expect((await post(sc, { authorization: 'Basic s3cret-token' })).statusCode).toBe(401);
    expect((await post(sc, { authorization: 'Bearer s3cret-token' })).statusCode).toBe(201);
    expect((await post(sc, { authorization: 'bearer s3cret-token' })).statusCode).toBe(201);
    const inc = await sc.app.inject({ method: 'POST', url: '/api/v1/incidents', payload: { lastMinutes: 1 } });
    expect(inc.statusCode).toBe(401);
    const replay = await sc.app.inject({ method: 'POST', url: '/api/v1/incidents/replay', payload: Buffer.from('x'), headers: { 'content-type': 'application/gzip' } });
    expect(replay.statusCode).toBe(401);
    // Nothing was recorded by the refused requests.
    expect(sc.state.listIncidents().items).toHaveLength(0);
    expect(sc.state.listDiagnoses().items).toHaveLength(2);
  });

  test('reads stay open unless requireTokenForReads', async () => {
    expect((await sc.app.inject('/api/v1/diagnoses')).statusCode).toBe(200);
    expect((await sc.app.inject('/api/v1/graph')).statusCode).toBe(200);
  });
});

describe('with requireTokenForReads', () => {
  let sc: Sidecar;
  beforeAll(async () => {
    sc = await startSidecar({ config: { token: 'tok', requireTokenForReads: true } });
  });
  afterAll(async () => sc?.close());

  test('every data route needs the token; the page and liveness do not', async () => {
    for (const url of ['/api/v1/diagnoses', '/api/v1/graph', '/api/v1/anomalies', '/api/v1/incidents', '/api/v1/events', '/readyz', '/metrics', '/openapi.json']) {
      const r = await sc.app.inject(url);
      expect([url, r.statusCode]).toEqual([url, 401]);
    }
    expect((await sc.app.inject({ url: '/api/v1/diagnoses', headers: { authorization: 'Bearer tok' } })).statusCode).toBe(200);
    expect((await sc.app.inject('/healthz')).statusCode).toBe(200);
    const page = await sc.app.inject('/');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
  });
});

describe('without a token', () => {
  let sc: Sidecar;
  afterEach(async () => sc?.close());

  test('loopback listener: mutations accepted for a loopback Host, refused for another', async () => {
    delete process.env.FAULTLINE_TOKEN;
    sc = await startSidecar();
    expect((await post(sc)).statusCode).toBe(201);
    expect((await post(sc, { host: 'localhost:7070' })).statusCode).toBe(201);
    const rebound = await post(sc, { host: 'attacker.example:7070' });
    expect(rebound.statusCode).toBe(403);
    expect(rebound.json().error.message).toMatch(/loopback host/);
  });

  test('a listener on all interfaces refuses mutations (403) but serves reads', async () => {
    sc = await startSidecar();
    await sc.app.listen({ host: '0.0.0.0', port: 0 });
    const port = (sc.app.server.address() as AddressInfo).port;
    const call = (method: string, path: string, body?: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method, path, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
          let data = '';
          res.on('data', (c) => (data += c));
          res.on('end', () => resolve({ status: res.statusCode!, body: data }));
        });
        req.on('error', reject);
        req.end(body);
      });
    const refused = await call('POST', '/api/v1/diagnoses', JSON.stringify({ lastMinutes: 5 }));
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body).error.message).toMatch(/FAULTLINE_TOKEN/);
    expect((await call('GET', '/api/v1/diagnoses')).status).toBe(200);
  });

  test('FAULTLINE_TOKEN from the environment is honoured', async () => {
    process.env.FAULTLINE_TOKEN = 'from-env';
    try {
      sc = await startSidecar();
      expect((await post(sc)).statusCode).toBe(401);
      expect((await post(sc, { authorization: 'Bearer from-env' })).statusCode).toBe(201);
    } finally {
      delete process.env.FAULTLINE_TOKEN;
    }
  });
});
