// Read-only tools the model may call during an investigation, HolmesGPT-style: every result
// is typed (ok / no_data / error) and echoes the query so the model can correct itself;
// results are redacted, then cut to a per-tool budget with an instruction to narrow.

import { z } from 'zod';
import type { ChatCompletionFunctionTool } from 'openai/resources/chat/completions';
import { seriesKey, type Span } from '../model/telemetry';
import type { InvestigationContext } from './packet';
import type { Redactor } from './redact';
import { edgeRed, edgeSamples, entrySpans, isError, redOf, splitAt } from './views';

/** A configuration change applied by the tuner (or anyone the caller knows of). */
export interface RecentChange {
  atMs: number;
  target: string; // service or component the change applied to
  parameter: string;
  from?: unknown;
  to?: unknown;
  by?: string; // 'tuner', a user, ...
  reason?: string;
}

export type ToolStatus = 'ok' | 'no_data' | 'error';

export interface ToolResult {
  id: string; // citable: 'tool-1', 'tool-2', ...
  tool: string;
  status: ToolStatus;
  query: unknown; // the arguments as understood (echoed so the model can self-correct)
  data?: unknown;
  message?: string;
  truncated?: boolean;
}

const windowArg = z.enum(['before', 'after', 'both']).default('both');

const schemas = {
  service_stats: z.object({ service: z.string().min(1), window: windowArg.optional() }).strict(),
  edge_stats: z.object({ from: z.string().min(1), to: z.string().min(1) }).strict(),
  metric_series: z
    .object({ name: z.string().min(1), service: z.string().optional(), instance: z.string().optional(), maxPoints: z.number().int().min(2).max(60).optional() })
    .strict(),
  example_traces: z
    .object({ service: z.string().min(1), operation: z.string().optional(), kind: z.enum(['slow', 'error']), limit: z.number().int().min(1).max(5).optional() })
    .strict(),
  recent_changes: z.object({}).strict(),
};

export type ToolName = keyof typeof schemas;

const descriptions: Record<ToolName, string> = {
  service_stats: 'Rate, errors and latency (p50/p95/max) of one service as its callers see it, before and after the change point, with its top operations.',
  edge_stats: 'Calls from one service to another (caller-measured latency and errors), before and after the change point.',
  metric_series: 'One metric by name (optionally for a service or instance): per series the mean and max before/after the change point and a downsampled series.',
  example_traces: 'Example traces through a service (optionally one operation): the slowest ones or failed ones, each as a compact list of spans.',
  recent_changes: 'Configuration changes applied recently (by the tuner or others), with time, target, parameter and values.',
};

export function toolDefinitions(available: { reader: boolean; changes: boolean }): ChatCompletionFunctionTool[] {
  const names = (Object.keys(schemas) as ToolName[]).filter((n) => (n === 'recent_changes' ? available.changes : available.reader));
  return names.map((name) => {
    const parameters = z.toJSONSchema(schemas[name], { target: 'draft-7', io: 'input' }) as Record<string, unknown>;
    delete parameters.$schema;
    return { type: 'function', function: { name, description: descriptions[name], parameters } };
  });
}

export interface ToolRuntime {
  ctx: InvestigationContext;
  redactor: Redactor;
  recentChanges?: () => RecentChange[];
  maxOutputChars: number;
}

function pushTo<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

const num = (x: number) => Math.round(x * 1000) / 1000;

function notKnown(kind: string, value: string, known: Set<string>): string {
  const sample = [...known].slice(0, 30).join(', ');
  return `unknown ${kind} ${JSON.stringify(value)}; known ${kind}s: ${sample}`;
}

function runServiceStats(rt: ToolRuntime, a: z.infer<typeof schemas.service_stats>) {
  const { ctx } = rt;
  if (!ctx.services.has(a.service)) return { status: 'error' as const, message: notKnown('service', a.service, ctx.services) };
  const byId = new Map(ctx.spans.map((s) => [s.spanId, s]));
  const entries = entrySpans(ctx.spans, a.service, byId);
  if (entries.length === 0) return { status: 'no_data' as const, message: `no server or root spans of ${a.service} in the window (it may be a virtual peer: try edge_stats)` };
  const w = a.window ?? 'both';
  const { before, after } = splitAt(entries, (s) => s.startMs, ctx.splitMs);
  const ops = new Map<string, Span[]>();
  for (const s of entries) pushTo(ops, s.name, s);
  const operations = [...ops.entries()]
    .map(([name, list]) => {
      const p = splitAt(list, (s) => s.startMs, ctx.splitMs);
      return { operation: name, before: redOf(p.before), after: redOf(p.after) };
    })
    // Operations whose p95 grew the most first.
    .sort((x, y) => y.after.p95Ms - y.before.p95Ms - (x.after.p95Ms - x.before.p95Ms))
    .slice(0, 8);
  const instances = [...new Set(entries.map((s) => s.instance))].slice(0, 20);
  return {
    status: 'ok' as const,
    data: {
      service: a.service,
      instances,
      ...(w !== 'after' ? { before: redOf(before) } : {}),
      ...(w !== 'before' ? { after: redOf(after) } : {}),
      operations,
    },
  };
}

function runEdgeStats(rt: ToolRuntime, a: z.infer<typeof schemas.edge_stats>) {
  const { ctx } = rt;
  for (const s of [a.from, a.to]) if (!ctx.services.has(s)) return { status: 'error' as const, message: notKnown('service', s, ctx.services) };
  const samples = edgeSamples(ctx.spans).filter((e) => e.from === a.from && e.to === a.to);
  if (samples.length === 0) {
    const callees = [...new Set(edgeSamples(ctx.spans).filter((e) => e.from === a.from).map((e) => e.to))];
    return { status: 'no_data' as const, message: `no calls from ${a.from} to ${a.to} in the window; ${a.from} calls: ${callees.join(', ') || 'nothing'}` };
  }
  const { before, after } = splitAt(samples, (e) => e.startMs, ctx.splitMs);
  return { status: 'ok' as const, data: { from: a.from, to: a.to, before: edgeRed(before), after: edgeRed(after) } };
}

function runMetricSeries(rt: ToolRuntime, a: z.infer<typeof schemas.metric_series>) {
  const { ctx } = rt;
  if (!ctx.metricNames.has(a.name)) return { status: 'error' as const, message: notKnown('metric', a.name, ctx.metricNames) };
  const points = ctx.metrics.filter(
    (p) => p.name === a.name && (a.service === undefined || p.service === a.service) && (a.instance === undefined || p.instance === a.instance || p.host === a.instance),
  );
  if (points.length === 0) return { status: 'no_data' as const, message: `metric ${a.name} has no points for the given service/instance in the window` };
  const bySeries = new Map<string, typeof points>();
  for (const p of points) {
    const k = seriesKey(p);
    pushTo(bySeries, k, p);
  }
  const maxPoints = a.maxPoints ?? 20;
  const stats = (xs: number[]) => (xs.length ? { mean: num(xs.reduce((s, x) => s + x, 0) / xs.length), max: num(Math.max(...xs)), n: xs.length } : null);
  const series = [...bySeries.entries()].slice(0, 4).map(([key, list]) => {
    list.sort((x, y) => x.timeMs - y.timeMs);
    const { before, after } = splitAt(list, (p) => p.timeMs, ctx.splitMs);
    const step = Math.max(1, Math.ceil(list.length / maxPoints));
    return {
      series: key,
      kind: list[0].kind,
      unit: list[0].unit,
      before: stats(before.map((p) => p.value)),
      after: stats(after.map((p) => p.value)),
      points: list.filter((_, i) => i % step === 0).map((p) => [Math.round(p.timeMs), num(p.value)]),
    };
  });
  return { status: 'ok' as const, data: { series, moreSeries: Math.max(0, bySeries.size - 4) } };
}

function runExampleTraces(rt: ToolRuntime, a: z.infer<typeof schemas.example_traces>) {
  const { ctx, redactor } = rt;
  if (!ctx.services.has(a.service)) return { status: 'error' as const, message: notKnown('service', a.service, ctx.services) };
  let pool = ctx.spans.filter((s) => s.service === a.service && (a.operation === undefined || s.name === a.operation) && s.startMs >= ctx.splitMs);
  if (pool.length === 0 && a.operation !== undefined) {
    const ops = [...new Set(ctx.spans.filter((s) => s.service === a.service).map((s) => s.name))].slice(0, 20);
    return { status: 'no_data' as const, message: `no spans of ${a.service} named ${JSON.stringify(a.operation)} after the change; its operations: ${ops.join(', ')}` };
  }
  pool = a.kind === 'error' ? pool.filter(isError) : [...pool].sort((x, y) => y.durationMs - x.durationMs);
  if (pool.length === 0) return { status: 'no_data' as const, message: `no ${a.kind === 'error' ? 'failed' : ''} spans of ${a.service} after the change` };
  const traceIds: string[] = [];
  for (const s of pool) {
    if (!traceIds.includes(s.traceId)) traceIds.push(s.traceId);
    if (traceIds.length >= (a.limit ?? 2)) break;
  }
  const byTrace = new Map<string, Span[]>();
  const wanted = new Set(traceIds);
  for (const s of ctx.spans) if (wanted.has(s.traceId)) pushTo(byTrace, s.traceId, s);
  const traces = traceIds.map((id) => {
    const spans = (byTrace.get(id) ?? []).sort((x, y) => x.startMs - y.startMs);
    return {
      traceId: id,
      spans: spans.slice(0, 25).map((s) => ({
        spanId: s.spanId,
        parent: s.parentSpanId || null,
        service: s.service,
        instance: s.instance,
        operation: s.name,
        durationMs: num(s.durationMs),
        error: isError(s),
        ...(s.statusMessage ? { statusMessage: redactor.text(s.statusMessage.slice(0, 300)) } : {}),
        attributes: redactor.attributes(s.attributes, 12),
      })),
      moreSpans: Math.max(0, spans.length - 25),
    };
  });
  return { status: 'ok' as const, data: { traces } };
}

function runRecentChanges(rt: ToolRuntime) {
  const list = rt.recentChanges?.() ?? [];
  const { fromMs, toMs } = rt.ctx.diagnosis.window;
  const relevant = list.filter((c) => c.atMs >= fromMs - 3_600_000 && c.atMs <= toMs).slice(-20);
  if (relevant.length === 0) return { status: 'no_data' as const, message: 'no configuration changes in the hour before or during the window' };
  return { status: 'ok' as const, data: { changes: relevant } };
}

/**
 * Runs one tool call. Arguments arrive redacted (the model only saw placeholders) and are
 * restored before they query the store; the result is redacted again and cut to budget.
 */
export function runTool(rt: ToolRuntime, id: string, name: string, rawArgs: string): { result: ToolResult; text: string } {
  let parsedArgs: unknown;
  let result: Omit<ToolResult, 'id' | 'tool' | 'query'> & { query?: unknown };
  try {
    parsedArgs = rawArgs.trim() === '' ? {} : JSON.parse(rawArgs);
  } catch {
    parsedArgs = rawArgs;
  }
  const schema = (schemas as Record<string, z.ZodType>)[name];
  if (!schema) {
    result = { status: 'error', message: `unknown tool ${JSON.stringify(name)}; available: ${Object.keys(schemas).join(', ')}` };
  } else if (typeof parsedArgs === 'string') {
    result = { status: 'error', message: 'arguments are not valid JSON' };
  } else {
    const ok = schema.safeParse(rt.redactor.restoreDeep(parsedArgs));
    if (!ok.success) {
      result = { status: 'error', message: 'invalid arguments: ' + ok.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
    } else {
      try {
        const a = ok.data as never;
        result =
          name === 'service_stats'
            ? runServiceStats(rt, a)
            : name === 'edge_stats'
              ? runEdgeStats(rt, a)
              : name === 'metric_series'
                ? runMetricSeries(rt, a)
                : name === 'example_traces'
                  ? runExampleTraces(rt, a)
                  : runRecentChanges(rt);
      } catch (e) {
        result = { status: 'error', message: `tool failed: ${(e as Error).message}` };
      }
    }
  }
  const full: ToolResult = rt.redactor.deep({ id, tool: name, query: parsedArgs, ...result });
  let text = JSON.stringify(full);
  if (text.length > rt.maxOutputChars && name === 'example_traces' && full.status === 'ok') {
    // Traces degrade gracefully: keep the slowest spans of each trace without attributes first.
    const data = full.data as { traces: Array<{ traceId: string; spans: Array<Record<string, unknown>>; moreSpans: number }> };
    const compact = {
      traces: data.traces.map((t) => ({
        traceId: t.traceId,
        spans: [...t.spans]
          .sort((x, y) => Number(y.durationMs) - Number(x.durationMs))
          .slice(0, 8)
          .map(({ attributes: _a, ...rest }) => (void _a, rest)),
        moreSpans: t.moreSpans + Math.max(0, t.spans.length - 8),
      })),
    };
    const compacted = { ...full, data: compact, truncated: true, message: 'compacted to the 8 slowest spans per trace without attributes; ask for one trace (limit 1) or one operation for details' };
    const t2 = JSON.stringify(compacted);
    if (t2.length <= rt.maxOutputChars) {
      full.data = compact;
      full.message = compacted.message;
      full.truncated = true;
      text = t2;
    }
  }
  if (text.length > rt.maxOutputChars) {
    const note = `result cut at ${rt.maxOutputChars} of ${text.length} characters: narrow the query (name one operation or instance, a smaller limit or maxPoints)`;
    let preview = JSON.stringify(full.data);
    const build = () => JSON.stringify({ id, tool: name, status: full.status, query: full.query, truncated: true, message: note, dataPreview: preview });
    full.truncated = true;
    text = build();
    // The preview is escaped once more inside the JSON, so shrink until the whole fits.
    while (text.length > rt.maxOutputChars && preview.length > 0) {
      preview = preview.slice(0, Math.max(0, preview.length - (text.length - rt.maxOutputChars) - 16));
      text = build();
    }
  }
  return { result: full, text };
}

/** Canonical key for the duplicate-call guard: tool name plus arguments with sorted keys. */
export function callKey(name: string, rawArgs: string): string {
  let v: unknown;
  try {
    v = JSON.parse(rawArgs || '{}');
  } catch {
    return `${name}:${rawArgs}`;
  }
  const canon = (x: unknown): unknown =>
    Array.isArray(x) ? x.map(canon) : x && typeof x === 'object' ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, canon((x as Record<string, unknown>)[k])])) : x;
  return `${name}:${JSON.stringify(canon(v))}`;
}
