// The LLM step against an OpenAI-protocol server on loopback, driven by the real `openai`
// client: tool round trips, grounding, and the fallback in every failure case.

import { applyLlmOutcome, defaultLlmConfig, explainDiagnosis, LlmAccount, llmConfigFromAgent, llmConfigFromEnv, maybeExplain, type LlmRecord } from '../../llm';
import type { Diagnosis } from '../../model/diagnosis';
import { buildContext } from '../../llm/packet';
import { runTool } from '../../llm/tools';
import { Redactor } from '../../llm';
import { startFakeOpenAI, type FakeServer, type Reply } from './fake-openai-server';
import { answer, makeDiagnosis, makeStore, testConfig } from './helpers';

const servers: FakeServer[] = [];
async function fake(r: Parameters<typeof startFakeOpenAI>[0]) {
  const s = await startFakeOpenAI(r);
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const { store } = makeStore();
const rec = (d: Diagnosis) => d.llm as LlmRecord;
const order = (d: Diagnosis) => d.causes.map((c) => c.service);

function expectFallback(d: Diagnosis, original: Diagnosis, reason: string) {
  expect(rec(d).status).toBe('fallback');
  expect(rec(d).reason).toBe(reason);
  expect(rec(d).note).toMatch(/deterministic diagnosis stands/);
  expect(order(d)).toEqual(order(original));
  expect(d.causes).toEqual(original.causes);
  expect(d.explanation).toBe(original.explanation);
  expect(d.summary).toBe(original.summary);
}

describe('config', () => {
  test('off by default and enabled from env only with an endpoint and a model', () => {
    expect(defaultLlmConfig().enabled).toBe(false);
    expect(llmConfigFromEnv({}).enabled).toBe(false);
    expect(llmConfigFromEnv({ FAULTLINE_LLM_MODEL: 'm' }).enabled).toBe(false);
    const c = llmConfigFromEnv({ OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1', FAULTLINE_LLM_MODEL: 'qwen2.5:7b', FAULTLINE_LLM_COST_IN: '0.5' });
    expect(c).toMatchObject({ enabled: true, baseURL: 'http://127.0.0.1:11434/v1', model: 'qwen2.5:7b', costPerMTokIn: 0.5 });
    expect(llmConfigFromEnv({ OPENAI_API_KEY: 'k', FAULTLINE_LLM_MODEL: 'm', FAULTLINE_LLM: 'off' }).enabled).toBe(false);
    expect(() => llmConfigFromEnv({ FAULTLINE_LLM_TIMEOUT_MS: 'soon' })).toThrow(/FAULTLINE_LLM_TIMEOUT_MS/);
  });

  test('from the agent config section (agent/config.ts folds the env in)', () => {
    const c = llmConfigFromAgent({ enabled: true, baseURL: 'http://127.0.0.1:8080/v1', model: 'local', timeoutSeconds: 12, maxSteps: 3, redactKeys: ['^x-tenant$'] });
    expect(c).toMatchObject({ enabled: true, baseURL: 'http://127.0.0.1:8080/v1', model: 'local', timeoutMs: 12_000, maxSteps: 3 });
    expect(c.redact.keys).toContain('^x-tenant$');
    expect(c.redact.keys).toContain('authorization');
    expect(llmConfigFromAgent({ enabled: true, timeoutSeconds: 30 }).enabled).toBe(false); // no model
    expect(llmConfigFromAgent({ enabled: false, model: 'm', apiKey: 'k' }).enabled).toBe(false);
  });

  test('disabled: nothing is sent and the deterministic diagnosis stands with a note', async () => {
    const s = await fake([{ type: 'message', content: answer() }]);
    const d0 = makeDiagnosis();
    const d = await maybeExplain(d0, store, { ...testConfig(s.baseURL), enabled: false });
    expectFallback(d, d0, 'disabled');
    expect(s.requests).toHaveLength(0);
  });
});

describe('investigation', () => {
  test('parallel tool calls round-trip with matching tool_call_ids, duplicates refused, cost accounted', async () => {
    const s = await fake([
      {
        type: 'message',
        toolCalls: [
          { name: 'service_stats', arguments: { service: 'feature-store' } },
          { name: 'edge_stats', arguments: { from: 'ranking', to: 'feature-store' } },
          { name: 'metric_series', arguments: { name: 'process.cpu.utilization', service: 'feature-store', maxPoints: 5 } },
        ],
      },
      {
        type: 'message',
        toolCalls: [
          { name: 'edge_stats', arguments: { to: 'feature-store', from: 'ranking' } }, // same call, keys reordered
          { name: 'service_stats', arguments: { service: 'payment-gateway' } },
        ],
      },
      { type: 'message', content: answer({ explanation: 'ranking->feature-store p95 rose [ev-2][tool-2].' }) },
    ]);
    const d0 = makeDiagnosis();
    const d = await maybeExplain(d0, store, testConfig(s.baseURL, { costPerMTokIn: 2, costPerMTokOut: 8 }));
    expect(s.protocolErrors).toEqual([]);
    expect(s.requests).toHaveLength(3);
    // The second request echoes the assistant tool_calls and answers each id once.
    const second = s.requests[1].body.messages;
    const asst = second.find((m: any) => m.role === 'assistant');
    const toolMsgs = second.filter((m: any) => m.role === 'tool');
    expect(toolMsgs.map((m: any) => m.tool_call_id)).toEqual(asst.tool_calls.map((t: any) => t.id));
    const results = toolMsgs.map((m: any) => JSON.parse(m.content));
    expect(results.map((r: any) => r.status)).toEqual(['ok', 'ok', 'ok']);
    expect(results[1]).toMatchObject({ id: 'tool-2', tool: 'edge_stats', query: { from: 'ranking', to: 'feature-store' } });
    // The edge really slowed down in the data: after p95 well above before p95.
    expect(results[1].data.after.p95Ms).toBeGreaterThan(3 * results[1].data.before.p95Ms);
    expect(results[2].data.series[0].points.length).toBeLessThanOrEqual(5);
    // Third request: duplicate refused, unknown service answered with an error naming the known ones.
    const third = s.requests[2].body.messages.filter((m: any) => m.role === 'tool').slice(3).map((m: any) => JSON.parse(m.content));
    expect(third[0]).toMatchObject({ status: 'error' });
    expect(third[0].message).toMatch(/duplicate call: identical to tool-2/);
    expect(third[1]).toMatchObject({ status: 'error', query: { service: 'payment-gateway' } });
    expect(third[1].message).toMatch(/unknown service "payment-gateway"; known services: .*feature-store/);

    const r = rec(d);
    expect(r.status).toBe('applied');
    expect(r.toolCalls.map((t) => [t.name, t.status, t.duplicate])).toEqual([
      ['service_stats', 'ok', false],
      ['edge_stats', 'ok', false],
      ['metric_series', 'ok', false],
      ['edge_stats', 'error', true],
      ['service_stats', 'error', false],
    ]);
    expect(r.usage.calls).toBe(3);
    expect(r.usage.totalTokens).toBe(r.usage.promptTokens + r.usage.completionTokens);
    expect(r.usage.totalTokens).toBeGreaterThan(0);
    expect(r.usage.cost).toBeCloseTo((r.usage.promptTokens * 2 + r.usage.completionTokens * 8) / 1e6, 6);
    // Promotion backed by ev-2 (score 7.9 >= 3): feature-store moves to the top, recorded with why.
    expect(order(d)).toEqual(['feature-store', 'recommend', 'ranking', 'candidates', 'gateway']);
    expect(d.causes.map((c) => c.score)).toEqual([0.8, 0.6, 0.5, 0.2, 0.1]);
    expect(r.changes).toEqual([
      expect.objectContaining({ service: 'feature-store', fromRank: 2, toRank: 1, evidenceIds: ['ev-2'] }),
      expect.objectContaining({ service: 'recommend', fromRank: 1, toRank: 2 }),
    ]);
    expect(d.explanation).toBe('ranking->feature-store p95 rose [ev-2][tool-2].');
    expect(r.deterministic.ranking[0].service).toBe('recommend');
    expect(r.sent.packet).toBeDefined();
    expect(r.sent.messages.length).toBeGreaterThanOrEqual(2);
  });

  test('the first request carries a compact packet with the candidates, their evidence ids and the graph around them', async () => {
    const s = await fake([{ type: 'message', content: answer() }]);
    await explainDiagnosis(makeDiagnosis(), store, testConfig(s.baseURL, { topK: 3 }));
    const body = s.requests[0].body;
    const user = body.messages.find((m: any) => m.role === 'user').content as string;
    const packet = JSON.parse(user.slice(user.indexOf('{'), user.lastIndexOf('}') + 1));
    expect(packet.candidates.map((c: any) => c.service)).toEqual(['recommend', 'feature-store', 'ranking']);
    expect(packet.candidates[1].evidence[0].id).toBe('ev-2');
    expect(packet.graph.edges).toEqual(expect.arrayContaining([expect.objectContaining({ from: 'ranking', to: 'feature-store' }), expect.objectContaining({ from: 'ranking', to: 'redis' })]));
    expect(packet.known.services).toEqual(expect.arrayContaining(['gateway', 'recommend', 'ranking', 'feature-store', 'candidates', 'redis']));
    expect(body.tools.map((t: any) => t.function.name)).toEqual(['service_stats', 'edge_stats', 'metric_series', 'example_traces']);
    expect(body.response_format).toEqual({ type: 'json_object' });
    expect(s.requests[0].headers.authorization).toBe('Bearer test-key');
    expect(s.requests[0].bodyText.length).toBeLessThan(12_000);
  });

  test('json_schema mode sends a strict schema', async () => {
    const s = await fake([{ type: 'message', content: answer() }]);
    const o = await explainDiagnosis(makeDiagnosis(), undefined, testConfig(s.baseURL, { responseFormat: 'json_schema' }));
    expect(o.status).toBe('ok');
    const rf = s.requests[0].body.response_format;
    expect(rf.type).toBe('json_schema');
    expect(rf.json_schema.strict).toBe(true);
    expect(rf.json_schema.schema.additionalProperties).toBe(false);
    expect(rf.json_schema.schema.required).toEqual(['hypotheses', 'ranking', 'explanation', 'nextChecks']);
    // Without a reader no telemetry tools are offered.
    expect(s.requests[0].body.tools).toBeUndefined();
  });

  test('tools can be switched off for models that call them badly', async () => {
    const s = await fake([{ type: 'message', content: answer() }]);
    const c = llmConfigFromEnv({ OPENAI_BASE_URL: s.baseURL, FAULTLINE_LLM_MODEL: 'small-local', FAULTLINE_LLM_TOOLS: 'off' });
    const o = await explainDiagnosis(makeDiagnosis(), store, c);
    expect(o.status).toBe('ok');
    expect(s.requests[0].body.tools).toBeUndefined();
    expect(s.requests[0].body.messages[1].content).toMatch(/No tools are available/);
    expect(s.requests[0].headers.authorization).toBe('Bearer no-key');
  });

  test('oversized tool output is cut to the budget with an instruction to narrow', async () => {
    const s = await fake([
      { type: 'message', toolCalls: [{ name: 'example_traces', arguments: { service: 'ranking', kind: 'slow', limit: 5 } }] },
      { type: 'message', content: answer() },
    ]);
    const d = await maybeExplain(makeDiagnosis(), store, testConfig(s.baseURL, { maxToolOutputChars: 1200 }));
    const tool = s.requests[1].body.messages.find((m: any) => m.role === 'tool');
    expect(tool.content.length).toBeLessThanOrEqual(1200);
    const r = JSON.parse(tool.content);
    expect(r).toMatchObject({ status: 'ok', truncated: true, query: { service: 'ranking', kind: 'slow', limit: 5 } });
    expect(r.message).toMatch(/narrow the query/);
    expect(rec(d).toolCalls[0].truncated).toBe(true);
  });

  test('every tool result fits its budget, whatever the budget', () => {
    const ctx = buildContext(makeDiagnosis(), store);
    const redactor = new Redactor(defaultLlmConfig().redact);
    const calls: Array<[string, object]> = [
      ['service_stats', { service: 'ranking' }],
      ['edge_stats', { from: 'recommend', to: 'ranking' }],
      ['metric_series', { name: 'process.cpu.utilization', maxPoints: 60 }],
      ['example_traces', { service: 'gateway', kind: 'slow', limit: 5 }],
    ];
    for (const budget of [600, 900, 1500, 2500, 4000])
      for (const [name, args] of calls) {
        const r = runTool({ ctx, redactor, maxOutputChars: budget }, 'tool-1', name, JSON.stringify(args));
        expect(r.text.length).toBeLessThanOrEqual(budget);
        expect(JSON.parse(r.text)).toMatchObject({ id: 'tool-1', tool: name, status: 'ok', query: args });
      }
  });

  test('example traces too large for the budget are first compacted to the slowest spans', async () => {
    const s = await fake([
      { type: 'message', toolCalls: [{ name: 'example_traces', arguments: { service: 'gateway', kind: 'slow', limit: 2 } }] },
      { type: 'message', content: answer() },
    ]);
    await maybeExplain(makeDiagnosis(), store, testConfig(s.baseURL, { maxToolOutputChars: 4000 }));
    const r = JSON.parse(s.requests[1].body.messages.find((m: any) => m.role === 'tool').content);
    expect(r).toMatchObject({ status: 'ok', truncated: true });
    expect(r.message).toMatch(/compacted to the 8 slowest spans/);
    expect(r.data.traces).toHaveLength(2);
    const spans = r.data.traces[0].spans;
    expect(spans.length).toBeLessThanOrEqual(8);
    expect(spans[0].attributes).toBeUndefined();
    expect(spans[0].service).toBe('gateway'); // the root is the slowest span of its trace
    expect(spans.map((x: any) => x.durationMs)).toEqual([...spans.map((x: any) => x.durationMs)].sort((a: number, b: number) => b - a));
  });
});

describe('grounding', () => {
  test('hallucinated service, unknown evidence and unknown metric are dropped; unknown candidates cannot be ranked', async () => {
    const bad = answer({
      hypotheses: [
        { statement: 'payment-gateway is down', services: ['payment-gateway'], instances: [], metrics: [], evidenceIds: ['ev-2'], confidence: 'high' },
        { statement: 'feature-store is slow', services: ['feature-store'], instances: [], metrics: [], evidenceIds: ['ev-99'], confidence: 'medium' },
        { statement: 'GC pauses', services: ['ranking'], instances: ['rank-1'], metrics: ['jvm.gc.pause'], evidenceIds: ['ev-3'], confidence: 'low' },
        { statement: 'no citation', services: ['ranking'], instances: [], metrics: [], evidenceIds: [], confidence: 'low' },
        { statement: 'feature-store slowed', services: ['feature-store'], instances: ['fs-1'], metrics: ['process.cpu.utilization'], evidenceIds: ['ev-2'], confidence: 'high' },
      ],
      ranking: [
        { service: 'payment-gateway', reason: 'made up', evidenceIds: ['ev-2'] },
        { service: 'recommend', reason: 'agree', evidenceIds: ['ev-1'] },
      ],
    });
    const s = await fake([{ type: 'message', content: bad }]);
    const d0 = makeDiagnosis();
    const d = await maybeExplain(d0, store, testConfig(s.baseURL));
    const r = rec(d);
    expect(r.status).toBe('applied');
    expect(r.hypotheses.map((h) => h.statement)).toEqual(['feature-store slowed']);
    expect(r.rejectedHypotheses.map((x) => x.reason)).toEqual([
      'names service "payment-gateway" that is not in the data',
      'cites unknown evidence id "ev-99"',
      'names metric "jvm.gc.pause" that is not in the data',
      'cites no evidence',
    ]);
    expect(r.refusedPromotions).toEqual([{ service: 'payment-gateway', reason: 'not a candidate of the deterministic diagnosis' }]);
    expect(order(d)).toEqual(order(d0));
    expect(r.changes).toEqual([]);
  });

  test('a promotion without strong own evidence is refused; an explanation citing unknown ids is not kept', async () => {
    const s = await fake([
      {
        type: 'message',
        content: answer({
          ranking: [
            { service: 'ranking', reason: 'I think ranking', evidenceIds: ['ev-3'] }, // score 1.2 < 3
            { service: 'candidates', reason: 'cites someone else\'s evidence', evidenceIds: ['ev-2'] },
          ],
          explanation: 'ranking is the culprit [ev-3] as shown by [ev-42].',
        }),
      },
    ]);
    const d0 = makeDiagnosis();
    const d = await maybeExplain(d0, store, testConfig(s.baseURL));
    const r = rec(d);
    expect(r.status).toBe('applied');
    expect(order(d)).toEqual(order(d0));
    expect(r.refusedPromotions.map((x) => x.service)).toEqual(['ranking', 'candidates']);
    expect(r.refusedPromotions[0].reason).toMatch(/promotion from rank 3 to 1 refused: no cited evidence of its own with score >= 3/);
    expect(d.explanation).toBe(d0.explanation);
    expect(r.explanation).toBeUndefined();
    expect(r.note).toMatch(/deterministic explanation kept \(explanation cites unknown evidence "ev-42"\)/);
  });

  test('invalid answer gets one repair turn, then valid output is applied', async () => {
    const s = await fake([
      { type: 'message', content: 'The root cause is probably feature-store.' },
      { type: 'message', content: '```json\n' + answer() + '\n```' },
    ]);
    const d = await maybeExplain(makeDiagnosis(), store, testConfig(s.baseURL));
    expect(rec(d).status).toBe('applied');
    const repair = s.requests[1].body.messages.at(-1);
    expect(repair.role).toBe('user');
    expect(repair.content).toMatch(/not valid JSON/);
  });

  test('invalid answers twice: fallback invalid_output', async () => {
    const s = await fake([
      { type: 'message', content: JSON.stringify({ hypotheses: 'none' }) },
      { type: 'message', content: JSON.stringify({ ranking: [] }) },
    ]);
    const d0 = makeDiagnosis();
    const d = await maybeExplain(d0, store, testConfig(s.baseURL));
    expectFallback(d, d0, 'invalid_output');
    expect(rec(d).note).toMatch(/does not match the schema/);
  });
});

describe('failures fall back to the deterministic diagnosis', () => {
  test('429 with retry-after, then success', async () => {
    const s = await fake([
      { type: 'error', status: 429, message: 'Rate limit reached', errType: 'requests', code: 'rate_limit_exceeded', headers: { 'retry-after-ms': '200' } },
      { type: 'message', content: answer() },
    ]);
    const t = Date.now();
    const d = await maybeExplain(makeDiagnosis(), store, testConfig(s.baseURL, { maxRetries: 2 }));
    expect(rec(d).status).toBe('applied');
    expect(s.requests).toHaveLength(2);
    expect(Date.now() - t).toBeGreaterThanOrEqual(180);
  });

  test('429 with retries exhausted: call_failed', async () => {
    const s = await fake(() => ({ type: 'error', status: 429, message: 'Rate limit reached', headers: { 'retry-after': '0' } }) as Reply);
    const d0 = makeDiagnosis();
    const d = await maybeExplain(d0, store, testConfig(s.baseURL, { maxRetries: 1 }));
    expectFallback(d, d0, 'call_failed');
    expect(rec(d).note).toMatch(/429/);
    expect(s.requests).toHaveLength(2);
  });

  test('hung reply: the SDK times out and the diagnosis stands', async () => {
    const s = await fake([{ type: 'hang' }]);
    const d0 = makeDiagnosis();
    const t = Date.now();
    const d = await maybeExplain(d0, store, testConfig(s.baseURL, { timeoutMs: 300, maxRetries: 0 }));
    expectFallback(d, d0, 'timeout');
    expect(Date.now() - t).toBeLessThan(3_000);
  });

  test('total time budget bounds retries too', async () => {
    const s = await fake(() => ({ type: 'hang' }) as Reply);
    const d0 = makeDiagnosis();
    const t = Date.now();
    const d = await maybeExplain(d0, store, testConfig(s.baseURL, { timeoutMs: 5_000, maxRetries: 3, totalTimeoutMs: 400 }));
    expectFallback(d, d0, 'timeout');
    expect(Date.now() - t).toBeLessThan(3_000);
  });

  test('malformed body: call_failed; a body without choices: invalid_output', async () => {
    const s1 = await fake([{ type: 'raw', status: 200, body: '{"id": "x", "choices": [' }]);
    const d0 = makeDiagnosis();
    expectFallback(await maybeExplain(d0, store, testConfig(s1.baseURL)), d0, 'call_failed');
    const s2 = await fake([{ type: 'raw', status: 200, body: JSON.stringify({ id: 'x', object: 'chat.completion', choices: [] }) }]);
    expectFallback(await maybeExplain(d0, store, testConfig(s2.baseURL)), d0, 'invalid_output');
  });

  test('401 and 500: call_failed, with the endpoint message in the note', async () => {
    const s = await fake([{ type: 'error', status: 401, message: 'Incorrect API key provided' }]);
    const d0 = makeDiagnosis();
    const d = await maybeExplain(d0, store, testConfig(s.baseURL));
    expectFallback(d, d0, 'call_failed');
    expect(rec(d).note).toMatch(/401.*Incorrect API key/);
    const s5 = await fake(() => ({ type: 'error', status: 503, message: 'overloaded' }) as Reply);
    expectFallback(await maybeExplain(d0, store, testConfig(s5.baseURL, { maxRetries: 1 })), d0, 'call_failed');
  });

  test('unreachable endpoint: call_failed', async () => {
    const s = await fake([]);
    const url = s.baseURL;
    await s.close();
    const d0 = makeDiagnosis();
    expectFallback(await maybeExplain(d0, store, testConfig(url)), d0, 'call_failed');
  });

  test('token budget and step limit: budget_exhausted', async () => {
    const s = await fake([{ type: 'message', content: answer() }]);
    const d0 = makeDiagnosis();
    const tiny = await maybeExplain(d0, store, testConfig(s.baseURL, { maxTotalTokens: 200 }));
    expectFallback(tiny, d0, 'budget_exhausted');
    expect(s.requests).toHaveLength(0);

    const loop = () => ({ type: 'message', toolCalls: [{ name: 'service_stats', arguments: { service: 'ranking', window: ['before', 'after', 'both'][Math.floor(Math.random() * 3)] } }] }) as Reply;
    const s2 = await fake(loop);
    const d = await maybeExplain(d0, store, testConfig(s2.baseURL, { maxSteps: 3 }));
    expectFallback(d, d0, 'budget_exhausted');
    expect(s2.requests).toHaveLength(3);
    expect(s2.requests[2].body.tools).toBeUndefined(); // last step offers no tools
    expect(rec(d).usage.calls).toBe(3);
  });

  test('applyLlmOutcome never mutates the deterministic diagnosis', async () => {
    const s = await fake([{ type: 'message', content: answer() }]);
    const d0 = makeDiagnosis();
    const copy = JSON.parse(JSON.stringify(d0));
    const o = await explainDiagnosis(d0, store, testConfig(s.baseURL));
    const d = applyLlmOutcome(d0, o);
    expect(d0).toEqual(copy);
    expect(d.causes[0].service).toBe('feature-store');
    expect(d.summary).toMatch(/LLM re-ranked: feature-store first/);
  });
});

describe('account', () => {
  test('counts runs, fallbacks, tokens and degrades after repeated failures', async () => {
    const s = await fake([{ type: 'message', content: answer() }, { type: 'error', status: 400, message: 'bad' }, { type: 'error', status: 400, message: 'bad' }, { type: 'error', status: 400, message: 'bad' }]);
    const cfg = testConfig(s.baseURL);
    const acc = new LlmAccount(cfg);
    for (let i = 0; i < 4; i++) acc.record((await maybeExplain(makeDiagnosis(), store, cfg)).llm);
    expect(acc.runs).toBe(4);
    expect(acc.applied).toBe(1);
    expect(acc.fallbacks).toEqual({ call_failed: 3 });
    expect(acc.totalTokens).toBeGreaterThan(0);
    expect(acc.health()[0]).toMatchObject({ component: 'llm', status: 'degraded' });
    expect(new LlmAccount(defaultLlmConfig()).health()[0].status).toBe('disabled');
  });
});
