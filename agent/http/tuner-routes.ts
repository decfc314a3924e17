// The tuner's HTTP API under /api/v1/tuner: a fastify plugin over a TunerService. Reads are
// open; anything that changes a service (approve, apply, rollback, kill switch, mode) goes through
// the agent's token hook. Every route has a JSON schema so bad input is a 400 naming the field.

import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { TunerConflictError, type TunerService } from '../../tuner/service';

export interface TunerRoutesOptions {
  tuner: TunerService;
  /** Must be async: fastify waits for a `done` callback from a sync preHandler, and this one never calls it. */
  requireToken: (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
}

const configValue = { anyOf: [{ type: 'number' }, { type: 'string' }] };
const configSchema = { type: 'object', additionalProperties: configValue };
const anyObject = { type: 'object', additionalProperties: true };
const outcomeSchema = {
  type: 'object',
  properties: { verdict: { type: 'string' }, reason: { type: 'string' }, record: anyObject },
  required: ['verdict', 'reason', 'record'],
};
const errorSchema = { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] };
const actorBody = {
  type: 'object',
  properties: { actor: { type: 'string', minLength: 1, maxLength: 200 }, reason: { type: 'string', maxLength: 2000 } },
  additionalProperties: false,
};

export const tunerRoutes: FastifyPluginAsync<TunerRoutesOptions> = async (app, opts) => {
  const { tuner, requireToken } = opts;
  const conflict = (reply: FastifyReply, e: unknown) => {
    if (e instanceof TunerConflictError) return reply.code(409).send({ error: e.message });
    throw e;
  };

  app.get('/api/v1/tuner/regime', {
    schema: {
      summary: 'Current load regime, mode, kill switch and the best known config of the regime',
      response: {
        200: {
          type: 'object',
          properties: {
            regime: { type: 'string' },
            ratePerSPerInstance: { type: 'number' },
            enteredAtMs: { type: 'number' },
            mode: { type: 'string' },
            killSwitch: { type: 'boolean' },
            trialRunning: { type: 'boolean' },
            trials: { type: 'integer' },
            best: { type: 'object', properties: { config: configSchema, predictedObjective: { type: 'number' } } },
            knownRegimes: { type: 'array', items: { type: 'string' } },
            lastError: { type: 'string' },
          },
        },
      },
    },
    handler: async () => tuner.currentRegime(),
  });

  app.get<{ Querystring: { status?: 'open' | 'applied' | 'rolled-back' | 'refused' | 'superseded' } }>('/api/v1/tuner/suggestions', {
    schema: {
      summary: 'Suggestions with expected effect and reasons',
      querystring: { type: 'object', properties: { status: { type: 'string', enum: ['open', 'applied', 'rolled-back', 'refused', 'superseded'] } }, additionalProperties: false },
      response: {
        200: {
          type: 'object',
          properties: {
            suggestions: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  id: { type: 'string' },
                  createdMs: { type: 'number' },
                  regime: { type: 'string' },
                  status: { type: 'string' },
                  current: configSchema,
                  config: configSchema,
                  limited: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
                  reason: { type: 'string' },
                  reasons: { type: 'array', items: { type: 'string' } },
                  expected: anyObject,
                },
              },
            },
          },
        },
      },
    },
    handler: async (req) => ({ suggestions: tuner.listSuggestions(req.query.status) }),
  });

  app.post<{ Params: { id: string }; Body: { actor?: string } }>('/api/v1/tuner/suggestions/:id/approve', {
    preHandler: requireToken,
    schema: {
      summary: 'Approve a suggestion: it runs as a guarded trial (canary, evaluation, rollback)',
      params: { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 100 } }, required: ['id'] },
      body: actorBody,
      response: { 200: outcomeSchema, 409: errorSchema },
    },
    handler: async (req, reply) => {
      try {
        return await tuner.approve(req.params.id, req.body?.actor ?? 'api');
      } catch (e) {
        return conflict(reply, e);
      }
    },
  });

  app.post<{ Body: { config: Record<string, number | string>; actor?: string; reason?: string } }>('/api/v1/tuner/apply', {
    preHandler: requireToken,
    schema: {
      summary: 'Apply an explicit configuration through the guarded path (bounds, step limits, canary, rollback)',
      body: {
        type: 'object',
        properties: { config: { ...configSchema, minProperties: 1 }, actor: { type: 'string', minLength: 1, maxLength: 200 }, reason: { type: 'string', maxLength: 2000 } },
        required: ['config'],
        additionalProperties: false,
      },
      response: { 200: outcomeSchema, 409: errorSchema },
    },
    handler: async (req, reply) => {
      try {
        return await tuner.apply(req.body.config, req.body.actor ?? 'api', req.body.reason ?? 'manual apply');
      } catch (e) {
        return conflict(reply, e);
      }
    },
  });

  app.post<{ Body: { actor?: string; reason?: string } }>('/api/v1/tuner/rollback', {
    preHandler: requireToken,
    schema: { summary: 'Revert the last kept change on every instance', body: actorBody, response: { 200: outcomeSchema, 409: errorSchema } },
    handler: async (req, reply) => {
      try {
        return await tuner.rollback(req.body?.actor ?? 'api', req.body?.reason ?? 'manual rollback');
      } catch (e) {
        return conflict(reply, e);
      }
    },
  });

  app.get<{ Querystring: { kind?: string; regime?: string; sinceMs?: number; limit?: number } }>('/api/v1/tuner/history', {
    schema: {
      summary: 'The audit trail: what was applied (read back), when, why, and the result',
      querystring: {
        type: 'object',
        properties: {
          kind: { type: 'string', enum: ['suggestion', 'approval', 'trial', 'rollback', 'kill-switch', 'refused', 'mode'] },
          regime: { type: 'string' },
          sinceMs: { type: 'number' },
          limit: { type: 'integer', minimum: 1, maximum: 10000 },
        },
        additionalProperties: false,
      },
      response: { 200: { type: 'object', properties: { records: { type: 'array', items: anyObject } } } },
    },
    handler: async (req) => ({ records: tuner.history({ ...req.query, kind: req.query.kind as never, limit: req.query.limit ?? 200 }) }),
  });

  app.post<{ Body: { on: boolean; actor?: string; reason?: string } }>('/api/v1/tuner/kill-switch', {
    preHandler: requireToken,
    schema: {
      summary: 'Kill switch: on stops all changes and reverts to the pinned config; off resumes',
      body: {
        type: 'object',
        properties: { on: { type: 'boolean' }, actor: { type: 'string', minLength: 1, maxLength: 200 }, reason: { type: 'string', maxLength: 2000 } },
        required: ['on'],
        additionalProperties: false,
      },
      response: { 200: { type: 'object', properties: { killSwitch: { type: 'boolean' }, record: anyObject }, required: ['killSwitch'] } },
    },
    handler: async (req) => tuner.setKillSwitch(req.body.on, req.body.actor ?? 'api', req.body.reason),
  });

  app.post<{ Body: { mode: 'observe' | 'approve' | 'auto'; actor?: string } }>('/api/v1/tuner/mode', {
    preHandler: requireToken,
    schema: {
      summary: 'Set the mode (observe | approve | auto); a running trial finishes under its guardrails',
      body: {
        type: 'object',
        properties: { mode: { type: 'string', enum: ['observe', 'approve', 'auto'] }, actor: { type: 'string', minLength: 1, maxLength: 200 } },
        required: ['mode'],
        additionalProperties: false,
      },
      response: { 200: { type: 'object', properties: { mode: { type: 'string' } }, required: ['mode'] } },
    },
    handler: async (req) => {
      tuner.setMode(req.body.mode, req.body.actor ?? 'api');
      return { mode: tuner.getMode() };
    },
  });
};
