// Incidents: the index (list, get), recording a window of the store as an incident folder
// (the spec's format) under <dataDir>/incidents/<id>, downloading one as .tar.gz, and
// replaying an uploaded one.

import type { FastifyInstance } from 'fastify';
import { open, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { INCIDENT_FILE, TRACES_FILE, type IncidentMeta } from '../../incident/format';
import { recordIncident } from '../../incident/record';
import { replayIncident } from '../../incident/replay';
import { incidentsDir, INCIDENTS_SUBDIR, type IncidentRecord } from '../../state/index';
import { newId } from '../../watch/ids';
import { ArchiveError, extractArchive, packFolder } from '../archive';
import { ApiError } from '../errors';
import { errorResponses, INCIDENT_ID_PATTERN, windowBodyProperties } from '../schemas';
import type { ApiDeps } from '../server';
import { resolveWindow, type WindowRequest } from '../window';
import { listOptions } from './diagnoses';

const ARCHIVE_TYPES = ['application/gzip', 'application/x-gzip', 'application/x-tar', 'application/x-compressed-tar', 'application/octet-stream'];
const MAX_CONCURRENT_REPLAYS = 2;

interface RecordBody extends WindowRequest {
  id?: string;
  system?: string;
  description?: string;
  truth?: IncidentMeta['truth'];
}

/** fsync the written files and their folders, so an acknowledged recording survives a crash. */
async function syncPaths(paths: string[]): Promise<void> {
  const dirs = new Set<string>();
  for (const p of paths) {
    dirs.add(path.dirname(p));
    const fh = await open(p, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
  for (const d of dirs) {
    const fh = await open(d, 'r');
    try {
      await fh.sync();
    } catch {
      // some filesystems refuse fsync on a directory; the files themselves are synced
    } finally {
      await fh.close();
    }
  }
}

/** The folder inside an unpacked upload that holds the incident: the root or its only subfolder. */
async function findIncidentRoot(dir: string): Promise<string> {
  const names = await readdir(dir);
  const looksLikeIncident = (ns: string[]) => ns.includes(INCIDENT_FILE) || ns.includes(TRACES_FILE) || ns.includes(TRACES_FILE + '.gz');
  if (looksLikeIncident(names)) return dir;
  if (names.length === 1 && (await stat(path.join(dir, names[0]))).isDirectory()) {
    const inner = path.join(dir, names[0]);
    if (looksLikeIncident(await readdir(inner))) return inner;
  }
  throw new ApiError(400, 'bad_incident', `the archive holds no incident folder (expected ${INCIDENT_FILE} and ${TRACES_FILE} at its top or in its one folder)`);
}

export function registerIncidentRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const root = incidentsDir(deps.config.dataDir);
  const uploadLimit = deps.config.uploadLimitBytes ?? 64 * 1024 * 1024;
  const unpackLimit = deps.config.unpackLimitBytes ?? uploadLimit * 16;
  let replaysRunning = 0;

  app.get<{ Querystring: { limit?: number; cursor?: string; since?: number; until?: number } }>(
    '/api/v1/incidents',
    {
      schema: {
        summary: 'Recorded incidents, newest first',
        tags: ['incidents'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 20 },
            cursor: { type: 'string', maxLength: 200 },
            since: { type: 'number', minimum: 0 },
            until: { type: 'number', minimum: 0 },
          },
        },
        response: {
          200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: { $ref: 'IncidentRecord#' } }, nextCursor: { type: 'string' } } },
          ...errorResponses(400, 401),
        },
      },
    },
    async (req) => deps.state.listIncidents(listOptions(req.query)),
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/incidents/:id',
    {
      schema: {
        summary: 'One incident of the index',
        tags: ['incidents'],
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: INCIDENT_ID_PATTERN } } },
        response: { 200: { $ref: 'IncidentRecord#' }, ...errorResponses(400, 401, 404) },
      },
    },
    async (req) => {
      const rec = deps.state.getIncident(req.params.id);
      if (!rec) throw new ApiError(404, 'not_found', `no incident "${req.params.id}"`);
      return rec;
    },
  );

  app.post<{ Body: RecordBody }>(
    '/api/v1/incidents',
    {
      schema: {
        summary: 'Record a window of the store as an incident folder',
        description:
          'Body: {lastMinutes} or {fromMs, toMs}, optional id (default generated), system, description and truth ({service, instance?, kind, start}). Writes <dataDir>/incidents/<id> in the incident format and indexes it.',
        tags: ['incidents'],
        security: [{ bearer: [] }],
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...windowBodyProperties,
            id: { type: 'string', pattern: INCIDENT_ID_PATTERN },
            system: { type: 'string', maxLength: 200 },
            description: { type: 'string', maxLength: 4000 },
            truth: { $ref: 'IncidentTruth#' },
          },
        },
        response: {
          201: {
            type: 'object',
            required: ['incident', 'spans', 'metricPoints'],
            properties: { incident: { $ref: 'IncidentRecord#' }, spans: { type: 'integer' }, metricPoints: { type: 'integer' } },
          },
          ...errorResponses(400, 401, 403, 409, 413, 415, 422),
        },
      },
    },
    async (req, reply) => {
      const body = req.body;
      const win = resolveWindow(deps.store, body);
      const id = body.id ?? newId('inc');
      if (deps.state.getIncident(id)) throw new ApiError(409, 'conflict', `incident "${id}" already exists`);
      const dir = path.join(root, id);
      const exists = await stat(dir).then(
        () => true,
        () => false,
      );
      if (exists) throw new ApiError(409, 'conflict', `folder ${dir} already exists`);
      const empty = deps.store.querySpans({ ...win, limit: 1 }).length === 0 && deps.store.queryMetrics({ ...win, limit: 1 }).length === 0;
      if (empty) {
        throw new ApiError(422, 'no_data', `no telemetry held between ${new Date(win.fromMs).toISOString()} and ${new Date(win.toMs).toISOString()}`);
      }
      const meta: IncidentMeta = { id };
      if (body.system !== undefined) meta.system = body.system;
      if (body.description !== undefined) meta.description = body.description;
      if (body.truth) meta.truth = body.truth;
      const written = await recordIncident(deps.store, win.fromMs, win.toMs, dir, meta);
      await syncPaths(written.files);
      const rec: IncidentRecord = { id, createdAtMs: Date.now(), window: win, dir: path.posix.join(INCIDENTS_SUBDIR, id), source: 'api' };
      if (body.system !== undefined) rec.system = body.system;
      if (body.description !== undefined) rec.description = body.description;
      if (body.truth) rec.truth = body.truth;
      deps.state.saveIncident(rec);
      reply.code(201).header('location', `/api/v1/incidents/${encodeURIComponent(id)}`);
      return { incident: rec, spans: written.spans, metricPoints: written.metricPoints };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/incidents/:id/archive',
    {
      schema: {
        summary: 'The incident folder packed as one .tar.gz (entries under <id>/)',
        tags: ['incidents'],
        produces: ['application/gzip'],
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: INCIDENT_ID_PATTERN } } },
        response: { 200: { type: 'string', format: 'binary' }, ...errorResponses(400, 401, 404) },
      },
    },
    async (req, reply) => {
      const rec = deps.state.getIncident(req.params.id);
      if (!rec) throw new ApiError(404, 'not_found', `no incident "${req.params.id}"`);
      const folder = path.resolve(deps.config.dataDir, rec.dir);
      const ok = await stat(folder).then(
        (s) => s.isDirectory(),
        () => false,
      );
      if (!ok) throw new ApiError(404, 'not_found', `incident "${rec.id}" is indexed but its folder ${rec.dir} is gone`);
      reply
        .header('content-type', 'application/gzip')
        .header('content-disposition', `attachment; filename="${rec.id}.tar.gz"`)
        .header('cache-control', 'no-store');
      return reply.send(packFolder(path.dirname(folder), path.basename(folder)));
    },
  );

  // The upload route has its own body parser and limit, so only it accepts archives.
  app.register(async (scope) => {
    scope.addContentTypeParser(ARCHIVE_TYPES, { parseAs: 'buffer', bodyLimit: uploadLimit }, (_req, body, done) => done(null, body));
    scope.post<{ Querystring: { persist?: boolean } }>(
      '/api/v1/incidents/replay',
      {
        bodyLimit: uploadLimit,
        schema: {
          summary: 'Replay an uploaded incident (.tar.gz of an incident folder)',
          description:
            'Body: the archive (Content-Type application/gzip). It is unpacked into a temporary folder (plain files and folders only, no path leaving it, size-limited), loaded, diagnosed; the truth, if any, is read only afterwards and compared. persist=true also stores the diagnosis (source "replay").',
          tags: ['incidents'],
          security: [{ bearer: [] }],
          consumes: ARCHIVE_TYPES,
          querystring: { type: 'object', additionalProperties: false, properties: { persist: { type: 'boolean', default: false } } },
          response: {
            200: {
              type: 'object',
              required: ['incident', 'ms', 'diagnosis', 'ranking'],
              properties: {
                incident: { type: 'string' },
                ms: { type: 'number' },
                diagnosis: { $ref: 'Diagnosis#' },
                ranking: {
                  type: 'array',
                  items: { type: 'object', properties: { service: { type: 'string' }, instance: { type: 'string' }, kind: { type: 'string' }, score: { type: 'number' } } },
                },
                truth: { $ref: 'IncidentTruth#' },
                comparison: {
                  type: 'object',
                  properties: {
                    truthRank: { type: 'integer', description: '1-based rank of the true service; absent when not ranked' },
                    top1: { type: 'boolean' },
                    top5: { type: 'boolean' },
                    kindMatches: { type: 'boolean', description: 'the cause ranked for the true service has the true kind' },
                  },
                },
                warnings: { type: 'array', items: { type: 'string' } },
                persisted: { type: 'boolean' },
              },
            },
            ...errorResponses(400, 401, 403, 413, 415, 503),
          },
        },
      },
      async (req, reply) => {
        const body = req.body;
        if (!Buffer.isBuffer(body) || body.length === 0) throw new ApiError(400, 'malformed_body', 'the body must be a .tar.gz of an incident folder');
        if (replaysRunning >= MAX_CONCURRENT_REPLAYS) {
          reply.header('retry-after', '5');
          throw new ApiError(503, 'busy', `${replaysRunning} replays are running; retry shortly`);
        }
        replaysRunning++;
        const tmp = await mkdtemp(path.join(os.tmpdir(), 'faultline-replay-'));
        try {
          try {
            await extractArchive(body, tmp, { maxBytes: unpackLimit, maxEntries: 10_000 });
          } catch (err) {
            if (err instanceof ArchiveError) throw new ApiError(err.message.includes('more than') ? 413 : 400, 'bad_archive', err.message);
            throw err;
          }
          const dir = await findIncidentRoot(tmp);
          const result = await replayIncident(dir);
          if (result.error || !result.diagnosis) throw new ApiError(400, 'bad_incident', `the incident could not be replayed: ${result.error ?? 'no diagnosis'}`);
          const diagnosis = result.diagnosis;
          const out: Record<string, unknown> = {
            incident: result.id ?? path.basename(dir),
            ms: result.ms,
            diagnosis,
            ranking: result.ranking ?? [],
            warnings: result.warnings,
            persisted: false,
          };
          if (result.truth) {
            const truth = result.truth;
            out.truth = truth;
            const cause = diagnosis.causes.find((c) => c.service === truth.service);
            const comparison: Record<string, unknown> = { top1: result.truthRank === 1, top5: result.truthRank !== undefined && result.truthRank <= 5, kindMatches: cause?.kind === truth.kind };
            if (result.truthRank !== undefined) comparison.truthRank = result.truthRank;
            out.comparison = comparison;
          }
          if (req.query.persist) {
            // Stored under a fresh id: an incident's id may repeat across uploads.
            const stored = { ...diagnosis, id: newId('dg') };
            deps.state.saveDiagnosis(stored, 'replay');
            deps.events.emit('diagnosis', { diagnosis: stored, source: 'replay' });
            out.diagnosis = stored;
            out.persisted = true;
          }
          return out;
        } finally {
          replaysRunning--;
          await rm(tmp, { recursive: true, force: true });
        }
      },
    );
  });
}
