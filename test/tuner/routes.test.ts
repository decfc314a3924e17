import Fastify, { type FastifyInstance } from 'fastify';
import { tunerRoutes } from '../../agent/http/tuner-routes';
import { parseTunerConfig } from '../../tuner/config';
import { startAdmin, stopAdmin, VirtualWorld, type AdminInstance, startTuner } from './harness';

describe('tuner HTTP routes', () => {
  let admin: AdminInstance | undefined;
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    await stopAdmin(admin);
  });

  it('serves regime/suggestions/history, guards mutations with the token hook and validates bodies', async () => {
    admin = await startAdmin('i0', { threads: 4 });
    const world = new VirtualWorld('model', [admin], (k) => 10 + Math.abs(Number(k.threads) - 8) * 2);
    const config = parseTunerConfig({
      service: 'model',
      mode: 'approve',
      knobs: [{ name: 'threads', type: 'int', min: 1, max: 16, default: 4 }],
      applier: { kind: 'http', targets: [{ instance: 'i0', url: admin.url }] },
      regimes: { minDwellMs: 0 },
      evaluation: { windowMs: 5000, minRequests: 20, settleMs: 0 },
      guardrails: { minIntervalMs: 0 },
    });
    const tuner = await startTuner(world, config);
    app = Fastify();
    await app.register(tunerRoutes, {
      tuner,
      requireToken: async (req, reply) => {
        if (req.headers.authorization !== 'Bearer t0k') await reply.code(401).send({ error: 'token required' });
      },
    });
    const regime = await app.inject({ method: 'GET', url: '/api/v1/tuner/regime' });
    expect(regime.statusCode).toBe(200);
    expect(regime.json()).toMatchObject({ mode: 'approve', killSwitch: false, regime: expect.stringMatching(/rps/) });

    const sugg = await app.inject({ method: 'GET', url: '/api/v1/tuner/suggestions?status=open' });
    const list = sugg.json().suggestions;
    expect(list).toHaveLength(1);
    expect(list[0].reasons.length).toBeGreaterThan(0);

    const noToken = await app.inject({ method: 'POST', url: `/api/v1/tuner/suggestions/${list[0].id}/approve`, payload: {} });
    expect(noToken.statusCode).toBe(401);
    expect(admin.puts).toHaveLength(0);

    const badBody = await app.inject({ method: 'POST', url: '/api/v1/tuner/apply', headers: { authorization: 'Bearer t0k' }, payload: { conf: { threads: 1 } } });
    expect(badBody.statusCode).toBe(400);

    const approved = await app.inject({ method: 'POST', url: `/api/v1/tuner/suggestions/${list[0].id}/approve`, headers: { authorization: 'Bearer t0k' }, payload: { actor: 'ana' } });
    expect(approved.statusCode).toBe(200);
    expect(['kept', 'rolled-back']).toContain(approved.json().verdict);

    const again = await app.inject({ method: 'POST', url: `/api/v1/tuner/suggestions/${list[0].id}/approve`, headers: { authorization: 'Bearer t0k' }, payload: {} });
    expect(again.statusCode).toBe(409);

    const kill = await app.inject({ method: 'POST', url: '/api/v1/tuner/kill-switch', headers: { authorization: 'Bearer t0k' }, payload: { on: true, actor: 'oncall' } });
    expect(kill.json().killSwitch).toBe(true);
    expect(admin.knobs.threads).toBe(4);

    const hist = await app.inject({ method: 'GET', url: '/api/v1/tuner/history?kind=kill-switch' });
    expect(hist.json().records).toHaveLength(1);
    expect(hist.json().records[0].actor).toBe('oncall');

    expect((await app.inject({ method: 'POST', url: '/api/v1/tuner/mode', payload: { mode: 'auto' } })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/api/v1/tuner/mode', headers: { authorization: 'Bearer t0k' }, payload: { mode: 'fast' } })).statusCode).toBe(400);
    const mode = await app.inject({ method: 'POST', url: '/api/v1/tuner/mode', headers: { authorization: 'Bearer t0k' }, payload: { mode: 'auto', actor: 'ana' } });
    expect(mode.json()).toEqual({ mode: 'auto' });
    expect((await app.inject({ method: 'GET', url: '/api/v1/tuner/regime' })).json().mode).toBe('auto');
    expect((await app.inject({ method: 'GET', url: '/api/v1/tuner/history?kind=mode' })).json().records.at(-1).actor).toBe('ana');
  });
});
