// Nothing secret leaves the process: secrets planted in span attributes, status messages and
// the diagnosis text never reach the model endpoint, and what was sent is kept for audit.

import { defaultLlmConfig, maybeExplain, Redactor, type LlmRecord } from '../../llm';
import { startFakeOpenAI, type FakeServer } from './fake-openai-server';
import { answer, cause, ev, makeDiagnosis, makeStore, testConfig } from './helpers';

const SECRETS = {
  email: 'jane.doe+recs@example-shop.com',
  bearer: 'Bearer eYhbGciOiJIUzI1NiJ9abcdefghijkl0123',
  jwt: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
  openaiKey: 'sk-proj-4f8Hq2LmN9pRtV7xYz1AbCdEfGh',
  awsKey: 'AKIAIOSFODNN7EXAMPLE',
  ipv4: '203.0.113.42',
  ipv6: '2001:db8:85a3:0:0:8a2e:370:7334',
  userId: '8837261945',
  userIdString: 'u-77120034',
  password: 'hunter2-very-secret',
};

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('redaction defaults', () => {
  const r = new Redactor(defaultLlmConfig().redact);
  test.each([
    ['email', `contact ${SECRETS.email} now`],
    ['bearer', `auth: ${SECRETS.bearer}`],
    ['jwt', `token ${SECRETS.jwt}`],
    ['api-key', `key=${SECRETS.openaiKey}`],
    ['aws-key', `aws ${SECRETS.awsKey}`],
    ['ipv4', `peer ${SECRETS.ipv4}:8080`],
    ['ipv6', `peer ${SECRETS.ipv6}`],
    ['number-id', `user ${SECRETS.userId} bought`],
    ['number-id', `user ${SECRETS.userIdString}`],
    ['secret', `db password=${SECRETS.password};`],
  ])('%s is replaced by a placeholder', (name, text) => {
    const out = r.text(text);
    for (const s of Object.values(SECRETS)) expect(out).not.toContain(s);
    expect(out).toMatch(/<[a-z0-9-]+-\d+>/);
    expect(r.restore(out)).toBe(text.replace(/password=hunter2-very-secret/, 'password=hunter2-very-secret'));
    void name;
  });

  test('ordinary telemetry text is left alone', () => {
    for (const s of ['2026-11-20T10:15:00.123Z', 'GET /api/v1/items/{id}', 'ts-order-service', 'p95 rose 8.2x to 431.5 ms', '4bf92f3577b34da6a3ce929d0e0e4736', 'rank-2', 'version 1.12.3', 'took 12345 ms'])
      expect(r.text(s)).toBe(s);
  });

  test('same value, same placeholder; secret keys withheld whatever the value', () => {
    const a = r.text(`a ${SECRETS.email} b ${SECRETS.email}`);
    expect(a.match(/<email-\d+>/g)!.length).toBe(2);
    expect(new Set(a.match(/<email-\d+>/g)).size).toBe(1);
    expect(r.attribute('http.request.header.authorization', 'opaque')).toMatch(/^<withheld-\d+>$/);
    expect(r.attribute('enduser.id', 42)).toMatch(/^<withheld-\d+>$/);
    expect(r.attribute('http.response.status_code', 503)).toBe(503);
  });

  test('custom patterns from config', () => {
    const c = defaultLlmConfig();
    c.redact.patterns.push({ name: 'order', regex: 'ORD-[0-9]{4}' });
    expect(new Redactor(c.redact).text('order ORD-1234 failed')).toBe('order <order-1> failed');
  });
});

test('secrets planted in spans and the diagnosis never reach the model endpoint', async () => {
  const { store } = makeStore({
    fault: { service: 'ranking', kind: 'error', factor: 0.6 },
    extraAttributes: (svc, i) => ({
      'user.email': SECRETS.email,
      'http.request.header.authorization': SECRETS.bearer,
      'app.debug': `called with key ${SECRETS.openaiKey} and ${SECRETS.awsKey}`,
      'client.address': SECRETS.ipv4,
      'network.peer.address': SECRETS.ipv6,
      'app.user': Number(SECRETS.userId) + (svc === 'ranking' ? 0 : i * 0),
      'app.user_ref': SECRETS.userIdString,
      'app.session_jwt': SECRETS.jwt,
      'db.connection_string': `postgres://app:${SECRETS.password}@db:5432/recs`,
    }),
    statusMessage: () => `lookup failed for ${SECRETS.email} from ${SECRETS.ipv4} (password=${SECRETS.password})`,
  });
  const d0 = makeDiagnosis({
    causes: [
      cause('ranking', 0.9, [ev('ev-1', 'ranking', 6, { type: 'errors', title: `errors for user ${SECRETS.userId} from ${SECRETS.ipv4}`, instance: 'rank-1' })], 'error'),
      cause('feature-store', 0.3, [ev('ev-2', 'feature-store', 1)]),
    ],
    explanation: `ranking fails for ${SECRETS.email}; token ${SECRETS.openaiKey}`,
    summary: `errors at ranking (client ${SECRETS.ipv4})`,
  });
  server = await startFakeOpenAI([
    {
      type: 'message',
      toolCalls: [
        { name: 'example_traces', arguments: { service: 'ranking', kind: 'error', limit: 2 } },
        { name: 'example_traces', arguments: { service: 'gateway', kind: 'slow', limit: 1 } },
        { name: 'service_stats', arguments: { service: 'ranking' } },
      ],
    },
    { type: 'message', content: answer({ ranking: [], hypotheses: [], explanation: 'ranking returns errors [ev-1].' }) },
  ]);
  const d = await maybeExplain(d0, store, testConfig(server.baseURL, { maxToolOutputChars: 20_000 }));
  const r = d.llm as LlmRecord;
  expect(r.status).toBe('applied');
  expect(server.requests).toHaveLength(2);

  const wire = server.requests.map((q) => q.bodyText).join('\n');
  // The tool results really carried the span attributes (so the test can fail)...
  expect(wire).toContain('user.email');
  expect(wire).toContain('lookup failed for <email-');
  // ...and no secret, in any form, reached the server.
  const forms = Object.values(SECRETS).flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]);
  for (const s of forms) expect(wire).not.toContain(s);
  expect(wire).not.toMatch(/hunter2/);
  for (const p of ['email', 'ipv4', 'ipv6', 'api-key', 'aws-key', 'number-id', 'withheld']) expect(wire).toContain(`<${p}-`);

  // What was sent is kept with the diagnosis for audit, equally clean.
  const audit = JSON.stringify(r.sent);
  expect(audit).toContain('example_traces');
  for (const s of forms) expect(audit).not.toContain(s);
  expect(r.redactions.email).toBeGreaterThan(0);
  // Locally the diagnosis keeps the real values.
  expect(d.causes[0].evidence[0].title).toContain(SECRETS.ipv4);
});

test('placeholders the model echoes are mapped back before grounding and tool queries', async () => {
  const ipInstance = '10.20.30.40';
  const { store } = makeStore();
  const d0 = makeDiagnosis();
  d0.causes[1] = { ...d0.causes[1], instance: ipInstance };
  let placeholder = '';
  server = await startFakeOpenAI((req) => {
    if (req.index === 0) {
      placeholder = /<ipv4-\d+>/.exec(req.bodyText)![0];
      return { type: 'message', toolCalls: [{ name: 'service_stats', arguments: { service: 'feature-store' } }] };
    }
    return {
      type: 'message',
      content: answer({
        hypotheses: [{ statement: `instance ${placeholder} slowed`, services: ['feature-store'], instances: [placeholder], metrics: [], evidenceIds: ['ev-2'], confidence: 'medium' }],
      }),
    };
  });
  const d = await maybeExplain(d0, store, testConfig(server.baseURL));
  const r = d.llm as LlmRecord;
  expect(server.requests.map((q) => q.bodyText).join('')).not.toContain(ipInstance);
  expect(r.rejectedHypotheses).toEqual([]);
  expect(r.hypotheses).toHaveLength(1);
  expect(r.hypotheses[0].instances).toEqual([ipInstance]);
  expect(r.hypotheses[0].statement).toBe(`instance ${ipInstance} slowed`);
});
