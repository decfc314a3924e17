// faultline's configuration: defaults, then a YAML file, then FAULTLINE_* environment
// variables, then command-line flags; validated once at start with messages that name
// the offending key, so a typo fails loudly instead of silently running defaults.

import { DEFAULT_MAX_DIAGNOSIS_SPANS } from '../model/store';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';

const hostPort = (port: number) =>
  z
    .object({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(port),
    })
    .strict();

const PromTargetSchema = z
  .object({
    url: z.string().url(),
    service: z.string().min(1),
    instance: z.string().optional(),
    host: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
  })
  .strict();

export const ConfigSchema = z
  .object({
    /** Where diagnoses, incidents and audit records are kept. */
    dataDir: z.string().min(1).default(defaultDataDir()),
    otlp: z
      .object({
        http: hostPort(4318)
          .extend({ enabled: z.boolean().default(true), maxBodyMiB: z.number().positive().default(8) })
          .strict()
          .prefault({}),
        grpc: hostPort(4317)
          .extend({ enabled: z.boolean().default(true), maxMessageMiB: z.number().positive().default(8) })
          .strict()
          .prefault({}),
        /** Pass everything received on to an upstream OTLP/HTTP endpoint (e.g. an existing collector). */
        forward: z
          .object({
            endpoint: z.string().url(),
            headers: z.record(z.string(), z.string()).default({}),
            timeoutMs: z.number().int().positive().default(10_000),
            maxQueueMiB: z.number().positive().default(64),
          })
          .strict()
          .optional(),
        /**
         * Refuse new data (429/503 + Retry-After) while the process RSS is above this. The
         * store keeps itself within store.budgetMiB by evicting; this limit is the safety net
         * for what the budget does not see (decoding, GC lag), as the OTel memory_limiter is.
         */
        memorySoftLimitMiB: z.number().positive().default(512),
        maxInflightMiB: z.number().positive().default(64),
        retryAfterSeconds: z.number().int().positive().default(5),
      })
      .strict()
      .prefault({}),
    store: z
      .object({
        windowMinutes: z.number().positive().default(15),
        budgetMiB: z.number().positive().default(160),
      })
      .strict()
      .prefault({}),
    api: hostPort(7070)
      .extend({
        /** Bearer token for routes that record, upload or change anything (FAULTLINE_TOKEN). */
        token: z.string().min(8, 'api.token must be at least 8 characters').optional(),
        requireTokenForReads: z.boolean().default(false),
        bodyLimitMiB: z.number().positive().default(32),
      })
      .strict()
      .prefault({}),
    prometheus: z
      .object({
        intervalSeconds: z.number().positive().default(15),
        timeoutSeconds: z.number().positive().default(5),
        targets: z.array(PromTargetSchema).default([]),
      })
      .strict()
      .prefault({}),
    host: z
      .object({
        enabled: z.boolean().default(true),
        intervalSeconds: z.number().positive().default(5),
        procRoot: z.string().default('/proc'),
        cgroupRoot: z.string().default('/sys/fs/cgroup'),
        perf: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    detection: z
      .object({
        intervalSeconds: z.number().positive().default(5),
        windowMinutes: z.number().positive().default(10),
        cooldownSeconds: z.number().nonnegative().default(120),
        autoRecord: z.boolean().default(true),
        /** A diagnosis (watcher or API) reads at most about this many spans: whole traces are sampled beyond it, so memory stays bounded. */
        maxDiagnosisSpans: z.number().int().min(1000).default(DEFAULT_MAX_DIAGNOSIS_SPANS),
      })
      .strict()
      .prefault({}),
    /** The adaptive tuner; validated by tuner/config.ts (parseTunerConfig), absent = off. */
    tuner: z.unknown().optional(),
    llm: z
      .object({
        enabled: z.boolean().default(false),
        baseURL: z.string().url().optional(),
        apiKey: z.string().optional(),
        model: z.string().optional(),
        timeoutSeconds: z.number().positive().default(30),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type FaultlineConfig = z.infer<typeof ConfigSchema>;

function defaultDataDir(): string {
  return path.join(process.cwd(), '.faultline');
}

export class ConfigError extends Error {}

/** Env var -> config path. Numbers and booleans are parsed from their text. */
const ENV_MAP: Array<[string, string[]]> = [
  ['FAULTLINE_DATA_DIR', ['dataDir']],
  ['FAULTLINE_OTLP_HOST', ['otlp', 'http', 'host']],
  ['FAULTLINE_OTLP_HTTP_PORT', ['otlp', 'http', 'port']],
  ['FAULTLINE_OTLP_GRPC_HOST', ['otlp', 'grpc', 'host']],
  ['FAULTLINE_OTLP_GRPC_PORT', ['otlp', 'grpc', 'port']],
  ['FAULTLINE_OTLP_GRPC_ENABLED', ['otlp', 'grpc', 'enabled']],
  ['FAULTLINE_FORWARD_ENDPOINT', ['otlp', 'forward', 'endpoint']],
  ['FAULTLINE_MEMORY_SOFT_LIMIT_MIB', ['otlp', 'memorySoftLimitMiB']],
  ['FAULTLINE_STORE_WINDOW_MINUTES', ['store', 'windowMinutes']],
  ['FAULTLINE_STORE_BUDGET_MIB', ['store', 'budgetMiB']],
  ['FAULTLINE_API_HOST', ['api', 'host']],
  ['FAULTLINE_API_PORT', ['api', 'port']],
  ['FAULTLINE_TOKEN', ['api', 'token']],
  ['FAULTLINE_HOST_METRICS', ['host', 'enabled']],
  ['FAULTLINE_DETECTION_INTERVAL_SECONDS', ['detection', 'intervalSeconds']],
  ['FAULTLINE_DETECTION_WINDOW_MINUTES', ['detection', 'windowMinutes']],
  ['FAULTLINE_LLM_MODEL', ['llm', 'model']],
  ['OPENAI_BASE_URL', ['llm', 'baseURL']],
  ['OPENAI_API_KEY', ['llm', 'apiKey']],
];

function parseScalar(text: string): unknown {
  if (/^(true|false)$/i.test(text)) return text.toLowerCase() === 'true';
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return text;
}

function setPath(obj: Record<string, unknown>, keys: string[], value: unknown): void {
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    if (typeof cur[k] !== 'object' || cur[k] === null) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]] = value;
}

function readYaml(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read config file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = e.linePos?.[0]?.line;
    throw new ConfigError(`${file}${line ? `:${line}` : ''}: invalid YAML: ${e.message.split('\n')[0]}`);
  }
  const value = doc.toJS() ?? {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${file}: the top level must be a mapping`);
  return value as Record<string, unknown>;
}

export interface LoadConfigOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Already-parsed overrides (CLI flags) as config paths. */
  overrides?: Array<[string[], unknown]>;
}

export function loadConfig(opts: LoadConfigOptions = {}): FaultlineConfig {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.FAULTLINE_CONFIG;
  const raw: Record<string, unknown> = file ? readYaml(file) : {};
  for (const [name, keys] of ENV_MAP) {
    const v = env[name];
    if (v !== undefined && v !== '') setPath(raw, keys, keys[keys.length - 1] === 'token' || name.startsWith('OPENAI') ? v : parseScalar(v));
  }
  if ((env.OPENAI_BASE_URL || env.OPENAI_API_KEY) && env.FAULTLINE_LLM_MODEL && (raw.llm as Record<string, unknown>)?.enabled === undefined) {
    setPath(raw, ['llm', 'enabled'], true);
  }
  for (const [keys, value] of opts.overrides ?? []) setPath(raw, keys, value);
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const where = file ? `${file}: ` : '';
    const lines = parsed.error.issues.map((i) => {
      const key = i.path.join('.') || '(top level)';
      const msg = i.code === 'unrecognized_keys' ? `unknown key(s) ${i.keys.map((k) => `'${k}'`).join(', ')}` : i.message;
      return `  ${key}: ${msg}`;
    });
    throw new ConfigError(`${where}invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

export const MiB = 1024 * 1024;

/** A commented example config, printed by `faultline config --example`. */
export function exampleConfigYaml(): string {
  return [
    '# faultline configuration (every key optional; values shown are the defaults)',
    `dataDir: ./.faultline          # FAULTLINE_DATA_DIR`,
    'otlp:',
    '  http: { host: 127.0.0.1, port: 4318, maxBodyMiB: 8 }   # FAULTLINE_OTLP_HTTP_PORT',
    '  grpc: { enabled: true, host: 127.0.0.1, port: 4317 }   # FAULTLINE_OTLP_GRPC_PORT',
    '  # forward: { endpoint: http://collector:4318 }          # pass everything on upstream',
    '  memorySoftLimitMiB: 512      # heap + buffers above this: refuse with 429/503 + Retry-After',
    'store: { windowMinutes: 15, budgetMiB: 160 }',
    'api: { host: 127.0.0.1, port: 7070 }   # token: FAULTLINE_TOKEN',
    'prometheus:',
    '  intervalSeconds: 15',
    '  targets: []                  # - { url: http://127.0.0.1:9100/metrics, service: ranker }',
    'host: { enabled: true, intervalSeconds: 5, perf: false }',
    'detection: { intervalSeconds: 5, windowMinutes: 10, cooldownSeconds: 120, autoRecord: true, maxDiagnosisSpans: 200000 }',
    'llm: { enabled: false }        # OPENAI_BASE_URL, OPENAI_API_KEY, FAULTLINE_LLM_MODEL',
    os.EOL,
  ].join('\n');
}
