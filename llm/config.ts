// Provider and budget configuration for the optional LLM step. Off by default: the
// deterministic diagnosis never needs it, so nothing leaves the process unless a user
// gives an endpoint (OPENAI_BASE_URL / OPENAI_API_KEY) and a model.

export interface RedactionPattern {
  name: string; // becomes the placeholder prefix: <email-1>, <ip-2>, ...
  regex: string; // JavaScript regular expression source
  flags?: string; // default 'g' ('g' is always added)
}

export interface LlmConfig {
  enabled: boolean;
  baseURL?: string; // any OpenAI-compatible endpoint (hosted, vLLM, llama.cpp server, Ollama: http://host:11434/v1)
  apiKey?: string; // local servers usually ignore it; a placeholder is sent when absent
  model: string;
  timeoutMs: number; // per HTTP request to the model
  maxRetries: number; // SDK retries on 408/409/429/5xx/connection errors (honours retry-after)
  maxSteps: number; // model calls per diagnosis, tool rounds included
  maxToolOutputChars: number; // per tool result; larger results are cut with an instruction to narrow
  maxTotalTokens: number; // prompt + completion tokens per diagnosis
  costPerMTokIn?: number; // currency units per million prompt tokens (for the cost account)
  costPerMTokOut?: number;
  redact: {
    patterns: RedactionPattern[];
    /** Attribute keys (regex, case-insensitive) whose values are withheld whatever they contain. */
    keys?: string[];
  };
  /** Wall-clock budget for the whole investigation (all steps, retries included). Default 60 s. */
  totalTimeoutMs?: number;
  /** How many candidates go into the evidence packet. Default 5. */
  topK?: number;
  /** 'json_object' (default) asks for JSON mode, 'json_schema' for strict structured output, 'off' sends no response_format (servers without JSON mode). */
  responseFormat?: 'json_object' | 'json_schema' | 'off';
  /** false: no tool calling, one call over the packet only (for local models that call tools badly). Default true. */
  useTools?: boolean;
  /** Minimum evidence score a candidate needs, cited by the model, to move up the ranking. Default 3. */
  promoteMinEvidenceScore?: number;
}

/** Defaults catch what tends to sit in span attributes and messages of a web service. */
export const DEFAULT_REDACTION_PATTERNS: RedactionPattern[] = [
  { name: 'jwt', regex: String.raw`\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}` },
  { name: 'bearer', regex: String.raw`\b[Bb]earer\s+[A-Za-z0-9._~+/=-]{8,}` },
  { name: 'basic-auth', regex: String.raw`\b[Bb]asic\s+[A-Za-z0-9+/=]{8,}` },
  { name: 'api-key', regex: String.raw`\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}` },
  { name: 'aws-key', regex: String.raw`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b` },
  { name: 'github-token', regex: String.raw`\bgh[pousr]_[A-Za-z0-9]{20,}` },
  { name: 'secret', regex: String.raw`\b(?:api[_-]?key|access[_-]?token|token|secret|password|passwd|pwd)\s*[=:]\s*[^\s&;,"']+`, flags: 'i' },
  { name: 'email', regex: String.raw`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}` },
  { name: 'url-credentials', regex: String.raw`(?<=://)[^/\s:@]+:[^/\s@]+(?=@)` },
  { name: 'ipv4', regex: String.raw`\b(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}\b` },
  // Four or more groups, so clock times like 10:15:00 are left alone.
  { name: 'ipv6', regex: String.raw`\b(?:[0-9A-Fa-f]{1,4}:){3,7}[0-9A-Fa-f]{1,4}\b` },
  // Long numeric ids (user ids, account and card numbers, phone numbers) standing alone.
  { name: 'number-id', regex: String.raw`(?<![\w.])\d{6,}(?![\w.])` },
];

export const DEFAULT_REDACTED_KEYS: string[] = [
  'authorization',
  'cookie',
  'password',
  'passwd',
  'secret',
  'token',
  'api[_.-]?key',
  '^enduser\\.id$',
  '^user[_.-]?id$',
  'session',
];

export function defaultLlmConfig(): LlmConfig {
  return {
    enabled: false,
    model: '',
    timeoutMs: 30_000,
    maxRetries: 2,
    maxSteps: 6,
    maxToolOutputChars: 4_000,
    maxTotalTokens: 60_000,
    totalTimeoutMs: 60_000,
    topK: 5,
    responseFormat: 'json_object',
    promoteMinEvidenceScore: 3,
    redact: { patterns: DEFAULT_REDACTION_PATTERNS.map((p) => ({ ...p })), keys: [...DEFAULT_REDACTED_KEYS] },
  };
}

function numberFrom(env: Record<string, string | undefined>, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${JSON.stringify(raw)} is not a non-negative number`);
  return n;
}

/**
 * Reads OPENAI_BASE_URL, OPENAI_API_KEY, FAULTLINE_LLM_MODEL (and FAULTLINE_LLM_TIMEOUT_MS,
 * FAULTLINE_LLM_MAX_STEPS, FAULTLINE_LLM_MAX_TOKENS, FAULTLINE_LLM_COST_IN, FAULTLINE_LLM_COST_OUT,
 * FAULTLINE_LLM_TOOLS=off)
 * over `base` (a config file's values win over nothing, env wins over the file's unset fields only
 * where the file left them at defaults). Enabled when a model plus a base URL or a key is given,
 * unless FAULTLINE_LLM=off.
 */
export function llmConfigFromEnv(env: Record<string, string | undefined> = process.env, base: LlmConfig = defaultLlmConfig()): LlmConfig {
  const c: LlmConfig = { ...base, redact: { ...base.redact } };
  const baseURL = env.OPENAI_BASE_URL?.trim();
  const apiKey = env.OPENAI_API_KEY?.trim();
  const model = env.FAULTLINE_LLM_MODEL?.trim();
  if (baseURL && !c.baseURL) c.baseURL = baseURL;
  if (apiKey && !c.apiKey) c.apiKey = apiKey;
  if (model && !c.model) c.model = model;
  c.timeoutMs = numberFrom(env, 'FAULTLINE_LLM_TIMEOUT_MS') ?? c.timeoutMs;
  c.maxSteps = numberFrom(env, 'FAULTLINE_LLM_MAX_STEPS') ?? c.maxSteps;
  c.maxTotalTokens = numberFrom(env, 'FAULTLINE_LLM_MAX_TOKENS') ?? c.maxTotalTokens;
  c.costPerMTokIn = numberFrom(env, 'FAULTLINE_LLM_COST_IN') ?? c.costPerMTokIn;
  c.costPerMTokOut = numberFrom(env, 'FAULTLINE_LLM_COST_OUT') ?? c.costPerMTokOut;
  if (env.FAULTLINE_LLM_TOOLS && /^(off|false|0|no)$/i.test(env.FAULTLINE_LLM_TOOLS.trim())) c.useTools = false;
  if (!base.enabled) c.enabled = Boolean(c.model && (c.baseURL || c.apiKey));
  if (env.FAULTLINE_LLM && /^(off|false|0|no)$/i.test(env.FAULTLINE_LLM.trim())) c.enabled = false;
  return c;
}

/** Why the config cannot be used, or undefined when it can. */
export function llmConfigProblem(c: LlmConfig): string | undefined {
  if (!c.enabled) return 'LLM step is off: set OPENAI_BASE_URL (or OPENAI_API_KEY) and FAULTLINE_LLM_MODEL to enable it';
  if (!c.model) return 'no model configured (FAULTLINE_LLM_MODEL)';
  if (!c.baseURL && !c.apiKey) return 'no endpoint: set OPENAI_BASE_URL for a local server or OPENAI_API_KEY for the hosted API';
  if (c.maxSteps < 1) return 'maxSteps must be at least 1';
  for (const p of c.redact.patterns) {
    try {
      new RegExp(p.regex, 'g');
    } catch (e) {
      return `redaction pattern ${p.name} is not a valid regular expression: ${(e as Error).message}`;
    }
  }
  return undefined;
}

/** The `llm:` section of the agent's YAML config (agent/config.ts); extra fields are optional. */
export interface AgentLlmSection {
  enabled: boolean;
  baseURL?: string;
  apiKey?: string;
  model?: string;
  timeoutSeconds?: number;
  totalTimeoutSeconds?: number;
  maxRetries?: number;
  maxSteps?: number;
  maxToolOutputChars?: number;
  maxTotalTokens?: number;
  costPerMTokIn?: number;
  costPerMTokOut?: number;
  responseFormat?: LlmConfig['responseFormat'];
  useTools?: boolean;
  redactPatterns?: RedactionPattern[]; // added to the defaults
  redactKeys?: string[]; // added to the defaults
}

/**
 * LlmConfig from the agent's config section. agent/config.ts already folds OPENAI_BASE_URL,
 * OPENAI_API_KEY and FAULTLINE_LLM_MODEL into that section (file values win), so no env here.
 */
export function llmConfigFromAgent(s: AgentLlmSection): LlmConfig {
  const d = defaultLlmConfig();
  return {
    ...d,
    enabled: s.enabled && Boolean(s.model),
    baseURL: s.baseURL,
    apiKey: s.apiKey,
    model: s.model ?? '',
    timeoutMs: s.timeoutSeconds !== undefined ? s.timeoutSeconds * 1000 : d.timeoutMs,
    totalTimeoutMs: s.totalTimeoutSeconds !== undefined ? s.totalTimeoutSeconds * 1000 : d.totalTimeoutMs,
    maxRetries: s.maxRetries ?? d.maxRetries,
    maxSteps: s.maxSteps ?? d.maxSteps,
    maxToolOutputChars: s.maxToolOutputChars ?? d.maxToolOutputChars,
    maxTotalTokens: s.maxTotalTokens ?? d.maxTotalTokens,
    costPerMTokIn: s.costPerMTokIn,
    costPerMTokOut: s.costPerMTokOut,
    responseFormat: s.responseFormat ?? d.responseFormat,
    useTools: s.useTools ?? d.useTools,
    redact: { patterns: [...d.redact.patterns, ...(s.redactPatterns ?? [])], keys: [...(d.redact.keys ?? []), ...(s.redactKeys ?? [])] },
  };
}
