// The LLM step where users reach it: `faultline replay ... --llm --json` (a real CLI child
// process) and POST /api/v1/diagnoses {"llm": true}, against the fake OpenAI-protocol server.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApiServer } from '../../agent/http/server';
import { SelfMetrics } from '../../agent/self-metrics';
import { openStateStore } from '../../agent/state/index';
import { TelemetryStore } from '../../agent/store/telemetry-store';
import { EventBus } from '../../agent/watch/events';
import { loadIncident } from '../../agent/incident/reader';
import type { LlmRecord } from '../../llm';
import { startFakeOpenAI, type FakeRequest, type FakeServer, type Reply } from './fake-openai-server';
import { testConfig } from './helpers';
import { runFaultline } from '../helpers/run-faultline';

const ROOT = path.join(__dirname, '..', '..');
const INCIDENT = path.join('fixtures', 'incidents', 'sim-cpu-ranker');

/** A model that agrees with the top candidate, citing its first evidence id from the packet. */
function agreeing(req: FakeRequest): Reply {
  const user = req.body.messages.find((m: any) => m.role === 'user').content as string;
  const packet = JSON.parse(user.slice(user.indexOf('{'), user.lastIndexOf('}') + 1));
  const top = packet.candidates[0];
  const evId = top.evidence[0].id;
  return {
    type: 'message',
    content: JSON.stringify({
      hypotheses: [{ statement: `${top.service} changed first [${evId}]`, services: [top.service], instances: [], metrics: [], evidenceIds: [evId], confidence: 'medium' }],
      ranking: [{ service: top.service, reason: 'strongest own evidence', evidenceIds: [evId] }],
      explanation: `${top.service} shows the strongest change [${evId}].`,
      nextChecks: [{ action: `inspect ${top.service}`, why: 'top candidate' }],
    }),
  };
}

// The LLM settings come only from each test, never from the developer's environment.
const faultline = (args: string[], env: NodeJS.ProcessEnv) =>
  runFaultline(args, { env, unset: ['OPENAI_BASE_URL', 'OPENAI_API_KEY', 'FAULTLINE_LLM_MODEL', 'FAULTLINE_LLM', 'FAULTLINE_CONFIG'] });

const servers: FakeServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('faultline replay --llm --json', () => {
  test('adds an llm object to the contract line; the ranking fields stay', async () => {
    const s = await startFakeOpenAI(agreeing);
    servers.push(s);
    const env = { OPENAI_BASE_URL: s.baseURL, OPENAI_API_KEY: 'k', FAULTLINE_LLM_MODEL: 'fake' };
    const [plain, withLlm] = await Promise.all([faultline(['replay', INCIDENT, '--json'], env), faultline(['replay', INCIDENT, '--json', '--llm'], env)]);
    expect(plain.code).toBe(0);
    expect(withLlm.code).toBe(0);
    const a = JSON.parse(plain.stdout.trim());
    const b = JSON.parse(withLlm.stdout.trim());
    expect(Object.keys(a).sort()).toEqual(['incident', 'ms', 'ranking']);
    expect(Object.keys(b).sort()).toEqual(['incident', 'llm', 'ms', 'ranking']);
    expect(b.ranking.map((r: any) => r.service)).toEqual(a.ranking.map((r: any) => r.service));
    expect(b.llm).toMatchObject({ status: 'applied', model: 'fake', calls: 1 });
    expect(b.llm.explanation).toMatch(/strongest change \[ev-/);
    expect(b.llm.tokens).toBeGreaterThan(0);
    expect(s.requests).toHaveLength(1); // only the --llm run asked the model
  }, 90_000);

  test('unconfigured or failing model: the deterministic ranking stands, llm says why', async () => {
    const s = await startFakeOpenAI(() => ({ type: 'error', status: 500, message: 'boom' }));
    servers.push(s);
    const [off, failing] = await Promise.all([
      faultline(['replay', INCIDENT, '--json', '--llm'], {}),
      faultline(['replay', INCIDENT, '--json', '--llm'], { OPENAI_BASE_URL: s.baseURL, FAULTLINE_LLM_MODEL: 'fake' }),
    ]);
    expect(off.code).toBe(0);
    expect(failing.code).toBe(0);
    const a = JSON.parse(off.stdout.trim());
    const b = JSON.parse(failing.stdout.trim());
    expect(a.llm).toMatchObject({ status: 'fallback', reason: 'disabled' });
    expect(b.llm).toMatchObject({ status: 'fallback', reason: 'call_failed' });
    expect(b.ranking).toEqual(a.ranking);
  }, 90_000);
});

describe('POST /api/v1/diagnoses {"llm": true}', () => {
  test('runs the LLM step and returns the diagnosis with llm filled; without the flag nothing is sent', async () => {
    const s = await startFakeOpenAI(agreeing);
    servers.push(s);
    const { snapshot } = await loadIncident(path.join(ROOT, INCIDENT), { withoutTruth: true });
    const store = new TelemetryStore({ windowMs: Infinity });
    store.consumeSpans(snapshot.spans);
    store.consumeMetrics(snapshot.metrics);
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-llm-api-'));
    const state = openStateStore(dataDir);
    const app = await createApiServer({
      store,
      state,
      events: new EventBus(),
      metrics: new SelfMetrics({ defaultMetrics: false }),
      health: () => [],
      config: { bodyLimitBytes: 64 * 1024, dataDir },
      llm: testConfig(s.baseURL),
    });
    try {
      const plain = await app.inject({ method: 'POST', url: '/api/v1/diagnoses', payload: { lastMinutes: 60 } });
      expect(plain.statusCode).toBe(201);
      expect(plain.json().llm).toBeUndefined();
      expect(s.requests).toHaveLength(0);

      const res = await app.inject({ method: 'POST', url: '/api/v1/diagnoses', payload: { lastMinutes: 60, llm: true } });
      expect(res.statusCode).toBe(201);
      const d = res.json();
      const r = d.llm as LlmRecord;
      expect(r.status).toBe('applied');
      expect(r.hypotheses).toHaveLength(1);
      expect(r.usage.totalTokens).toBeGreaterThan(0);
      expect(d.explanation).toMatch(/strongest change/);
      expect(s.requests).toHaveLength(1);
      // Stored as returned.
      const got = await app.inject({ method: 'GET', url: `/api/v1/diagnoses/${encodeURIComponent(d.id)}` });
      expect((got.json().llm as LlmRecord).status).toBe('applied');

      const bad = await app.inject({ method: 'POST', url: '/api/v1/diagnoses', payload: { lastMinutes: 60, llm: 'please' } });
      expect(bad.statusCode).toBe(400);
    } finally {
      await app.close();
      state.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
