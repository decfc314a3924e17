// The live side: the watcher detecting the recorded change, diagnosing it once, recording
// the incident, and the SSE stream delivering events to a real HTTP client; listeners are
// released when the client goes away.

import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createWatcher } from '../../agent/watch/index';
import { startSidecar, type Sidecar } from './helpers';

let sc: Sidecar;
let port: number;
beforeAll(async () => {
  sc = await startSidecar({ config: { sseHeartbeatMs: 100 } });
  await sc.app.listen({ host: '127.0.0.1', port: 0 });
  port = (sc.app.server.address() as AddressInfo).port;
});
afterAll(async () => sc?.close());

/** Opens the event stream; `text()` is what arrived so far. */
function openStream(): Promise<{ req: http.ClientRequest; res: http.IncomingMessage; text: () => string; waitFor: (re: RegExp, ms?: number) => Promise<string> }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/api/v1/events' }, (res) => {
      let buf = '';
      const waiters: Array<{ re: RegExp; done: (s: string) => void }> = [];
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        for (const w of waiters.splice(0)) {
          const m = w.re.exec(buf);
          if (m) w.done(m[0]);
          else waiters.push(w);
        }
      });
      resolve({
        req,
        res,
        text: () => buf,
        waitFor: (re, ms = 5000) =>
          new Promise((ok, fail) => {
            const m = re.exec(buf);
            if (m) return ok(m[0]);
            const t = setTimeout(() => fail(new Error(`no ${re} within ${ms} ms; got:\n${buf}`)), ms);
            waiters.push({ re, done: (s) => (clearTimeout(t), ok(s)) });
          }),
      });
    });
    req.on('error', reject);
  });
}

test('the watcher diagnoses the change once, records it, and SSE delivers both events', async () => {
  const stream = await openStream();
  try {
    expect(stream.res.statusCode).toBe(200);
    expect(stream.res.headers['content-type']).toMatch(/text\/event-stream/);
    await stream.waitFor(/: heartbeat/);

    const watcher = createWatcher({ store: sc.store, state: sc.state, events: sc.events, dataDir: sc.dataDir, config: { intervalMs: 50, windowMs: 10 * 60_000, cooldownMs: 5 * 60_000, autoRecord: true } });
    const anomaly = await watcher.tick();
    expect(anomaly).toBeDefined();
    expect(anomaly!.diagnosisId).toBeDefined();
    const diagnosis = sc.state.getDiagnosis(anomaly!.diagnosisId!)!;
    expect(diagnosis.causes[0].service).toBe('ranker');

    const anomalyEvent = await stream.waitFor(/event: anomaly\nid: (\S+)\ndata: (.*)\n\n/);
    expect(anomalyEvent).toContain(anomaly!.id);
    const diagEvent = await stream.waitFor(/event: diagnosis\nid: \S+\ndata: (.*)\n\n/);
    expect(JSON.parse(diagEvent.split('data: ')[1]).diagnosis.id).toBe(diagnosis.id);

    // Same data, same change: nothing new. Cheap: not even a detection when nothing arrived.
    expect(await watcher.tick()).toBeUndefined();
    sc.store.consumeSpans([]); // no new items
    expect(await watcher.tick()).toBeUndefined();

    // Through the API.
    const anomalies = (await sc.app.inject('/api/v1/anomalies')).json();
    expect(anomalies.items).toHaveLength(1);
    expect(anomalies.items[0]).toMatchObject({ id: anomaly!.id, diagnosisId: diagnosis.id, report: { detected: true } });
    const incidents = (await sc.app.inject('/api/v1/incidents')).json();
    expect(incidents.items).toHaveLength(1);
    expect(incidents.items[0]).toMatchObject({ source: 'watch', diagnosisId: diagnosis.id });
    expect(fs.existsSync(path.join(sc.dataDir, incidents.items[0].dir, 'incident.json'))).toBe(true);

    // A new watcher on the same state (a restart) does not diagnose the same change again.
    const again = createWatcher({ store: sc.store, state: sc.state, events: sc.events, dataDir: sc.dataDir, config: { intervalMs: 50, windowMs: 10 * 60_000, cooldownMs: 5 * 60_000, autoRecord: true } });
    expect(await again.tick()).toBeUndefined();
    expect(sc.state.listAnomalies().items).toHaveLength(1);
  } finally {
    stream.req.destroy();
  }
});

test('the watcher loop runs on its timer, reports health, and stops cleanly', async () => {
  const watcher = createWatcher({ store: sc.store, state: sc.state, events: sc.events, dataDir: sc.dataDir, config: { intervalMs: 20, windowMs: 600_000, cooldownMs: 0, autoRecord: false } });
  const seen: string[] = [];
  const off = sc.events.on('anomaly', (a) => seen.push(a.id));
  await watcher.start();
  expect(watcher.health()[0].status).toBe('ok');
  // cooldown 0: the first look diagnoses again; later looks see no new data and skip.
  for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  await watcher.stop();
  off();
  expect(seen.length).toBe(1);
  expect(watcher.health()[0].status).toBe('disabled');
});

test('SSE listeners are released when the client disconnects', async () => {
  const before = sc.events.listenerCount('diagnosis');
  const stream = await openStream();
  await stream.waitFor(/: connected/);
  expect(sc.events.listenerCount('diagnosis')).toBe(before + 1);
  const r = await sc.app.inject({ method: 'POST', url: '/api/v1/diagnoses', payload: { lastMinutes: 5 } });
  await stream.waitFor(new RegExp(`event: diagnosis\\nid: ${r.json().id}`));
  stream.req.destroy();
  for (let i = 0; i < 50 && sc.events.listenerCount('diagnosis') > before; i++) await new Promise((res) => setTimeout(res, 20));
  expect(sc.events.listenerCount('diagnosis')).toBe(before);
  expect(sc.events.listenerCount('anomaly')).toBe(before);
});
