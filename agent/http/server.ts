// The sidecar's HTTP API and web view (fastify 5). createApiServer builds the instance
// without listening; `faultline serve` calls listen({host: '127.0.0.1', port: 7070}).
// Routes live in ./routes/*, one file per resource; docs/api.md describes each.

import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import type { ComponentHealth } from '../../model/component';
import type { TelemetryReader } from '../../model/store';
import type { SelfMetrics } from '../self-metrics';
import type { StateStore } from '../state/types';
import type { EventBus } from '../watch/events';
import { installAuth } from './auth';
import { installErrorHandlers } from './errors';
import { registerDiagnosisRoutes } from './routes/diagnoses';
import { registerEventRoutes } from './routes/events';
import { registerGraphRoutes } from './routes/graph';
import { registerIncidentRoutes } from './routes/incidents';
import { registerOpsRoutes } from './routes/ops';
import { registerWebRoutes } from './routes/web';
import { sharedSchemas } from './schemas';

export interface ApiConfig {
  /** Bearer token for mutating routes (falls back to FAULTLINE_TOKEN). */
  token?: string;
  /** Also require the token for reads (everything but the web page's static files and /healthz). */
  requireTokenForReads?: boolean;
  /** Limit of JSON request bodies. */
  bodyLimitBytes: number;
  /** Where state.db and incidents/ live. */
  dataDir: string;
  /** Limit of an uploaded incident archive (default 64 MiB). */
  uploadLimitBytes?: number;
  /** Limit of an uploaded archive once unpacked (default 16 x uploadLimitBytes). */
  unpackLimitBytes?: number;
  /** A diagnosis reads at most about this many spans, sampling whole traces beyond it (default 200000). */
  maxDiagnosisSpans?: number;
  /** SSE heartbeat comment period (default 15000 ms). */
  sseHeartbeatMs?: number;
  /** Pass false to silence request logs (tests). Default: fastify's logger at 'info' is off; errors still go to stderr. */
  logger?: boolean;
}

export interface ApiDeps {
  store: TelemetryReader;
  state: StateStore;
  events: EventBus;
  metrics: SelfMetrics;
  /** Health of the process's components (receivers, watcher, ...); the state's own is added. */
  health: () => ComponentHealth[];
  config: ApiConfig;
  /** The optional LLM step for POST /api/v1/diagnoses {"llm": true}; from the environment when absent. */
  llm?: import('../../llm').LlmConfig;
  /** Called with `diagnosis.llm` after every LLM step, so serve can keep the llm component's health and metrics. */
  onLlmStep?: (record: unknown) => void;
}

export async function createApiServer(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: deps.config.bodyLimitBytes,
    logger: deps.config.logger ? { level: 'info' } : { level: 'error' },
    // SSE streams are long-lived; close() must not wait for them (they are ended in preClose too).
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
  });
  // Only JSON (and the replay route's archives): anything else is 415, not a string body.
  app.removeContentTypeParser('text/plain');

  for (const s of sharedSchemas) app.addSchema(s);
  installErrorHandlers(app);
  installAuth(app, deps.config);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'faultline API',
        description: 'Diagnoses, anomalies, incidents and the service graph of the faultline sidecar. See docs/api.md.',
        version: 'v1',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });

  app.get('/openapi.json', { schema: { hide: true, response: { 200: { type: 'object', additionalProperties: true } } } }, async () => app.swagger());

  registerOpsRoutes(app, deps);
  registerGraphRoutes(app, deps);
  registerDiagnosisRoutes(app, deps);
  registerIncidentRoutes(app, deps);
  registerEventRoutes(app, deps);
  registerWebRoutes(app);
  return app;
}
