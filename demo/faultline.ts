// faultline as the demo sees it: a child process (`faultline serve`) and an HTTP API.
// Nothing here imports faultline's code; the shapes below mirror its documented API.
import fs from 'node:fs';
import path from 'node:path';
import { requestJson } from './lib/http-json';
import { spawnChild, stopChild, type Child } from './lib/processes';

export interface FaultlineAddresses {
  api: string;
  otlpHttp: string;
  otlpGrpc?: string;
}

/** The parts of faultline's Diagnosis (model/diagnosis.ts) the demo prints and checks. */
export interface DiagnosisView {
  id: string;
  createdAtMs: number;
  window: { fromMs: number; toMs: number };
  anomaly: { detected: boolean; changeAtMs?: number };
  causes: Array<{
    service: string;
    instance?: string;
    operation?: string;
    kind: string;
    score: number;
    confidence: number;
    evidence: Array<{ title: string; type?: string; service?: string }>;
  }>;
  propagationPath?: string[];
  summary: string;
  explanation: string;
}

/** One entry of GET /api/v1/diagnoses. */
export interface DiagnosisSummaryView {
  id: string;
  createdAtMs: number;
  source: 'api' | 'watch' | 'replay';
  summary: string;
  detected: boolean;
  changeAtMs?: number;
  rootCause?: { service?: string; instance?: string; kind?: string; score?: number; confidence?: number };
}

export interface RunningFaultline {
  addresses: FaultlineAddresses;
  child: Child;
  stop(): Promise<void>;
}

export const REPO_ROOT = path.resolve(__dirname, '..');

/**
 * Detection settings for a demo, where faults come a minute apart: a short look-back window
 * (the previous fault and the start-up ramp leave it quickly) and a short cooldown (a second
 * fault is a new incident). faultline's defaults (10 min, 120 s) suit production paging.
 */
export const DEMO_FAULTLINE_CONFIG = 'detection: { intervalSeconds: 2, windowMinutes: 0.5, cooldownSeconds: 15 }\n';

export async function startFaultline(opts: {
  dataDir: string;
  apiPort?: number;
  logFile?: string;
  readyTimeoutMs?: number;
  /** YAML for `serve --config` (written into the data dir); DEMO_FAULTLINE_CONFIG by default, '' for none. */
  configYaml?: string;
  extraArgs?: string[];
}): Promise<RunningFaultline> {
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const yaml = opts.configYaml ?? DEMO_FAULTLINE_CONFIG;
  const configArgs: string[] = [];
  if (yaml) {
    const file = path.join(opts.dataDir, 'faultline.yaml');
    fs.writeFileSync(file, yaml);
    configArgs.push('--config', file);
  }
  const readyFile = path.join(opts.dataDir, 'ready.json');
  fs.rmSync(readyFile, { force: true });
  const child = spawnChild({
    name: 'faultline',
    cwd: REPO_ROOT,
    logFile: opts.logFile,
    args: [
      path.join(REPO_ROOT, 'bin', 'faultline.cjs'),
      'serve',
      '--api-port',
      String(opts.apiPort ?? 0),
      '--otlp-http-port',
      '0',
      '--otlp-grpc-port',
      '0',
      '--data-dir',
      opts.dataDir,
      '--ready-file',
      readyFile,
      ...configArgs,
      ...(opts.extraArgs ?? []),
    ],
  });
  // Drain stdout (serve talks on stderr; a full pipe must never block it).
  child.proc.stdout!.resume();
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  let exited: number | null | undefined;
  void child.exited.then((code) => (exited = code));
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`faultline serve exited (code ${exited}) before it was ready:\n${child.stderrTail()}`);
    try {
      const a = JSON.parse(fs.readFileSync(readyFile, 'utf8')) as FaultlineAddresses;
      if (a.api && a.otlpHttp) return { addresses: a, child, stop: () => stopChild(child, 10_000) };
    } catch {
      /* not written yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await stopChild(child, 2000);
  throw new Error(`faultline serve did not write ${readyFile} within ${opts.readyTimeoutMs ?? 60_000} ms:\n${child.stderrTail()}`);
}

export class FaultlineApi {
  constructor(readonly base: string) {}

  health(): Promise<unknown> {
    return requestJson('GET', `${this.base}/healthz`);
  }

  /** Newest first, as summaries (GET /api/v1/diagnoses). */
  async diagnoses(limit = 10): Promise<DiagnosisSummaryView[]> {
    const r = await requestJson<{ items: DiagnosisSummaryView[] }>('GET', `${this.base}/api/v1/diagnoses?limit=${limit}`);
    return r.items ?? [];
  }

  diagnosis(id: string): Promise<DiagnosisView> {
    return requestJson('GET', `${this.base}/api/v1/diagnoses/${encodeURIComponent(id)}`);
  }

  /** A diagnosis run now over the last N minutes, or over [fromMs, toMs]. */
  diagnoseNow(window: { lastMinutes: number } | { fromMs: number; toMs: number }): Promise<DiagnosisView> {
    return requestJson('POST', `${this.base}/api/v1/diagnoses`, window, 120_000);
  }

  recordIncident(body: { lastMinutes?: number; fromMs?: number; toMs?: number; truth?: Record<string, unknown>; id?: string; description?: string; system?: string }): Promise<any> {
    return requestJson('POST', `${this.base}/api/v1/incidents`, body, 120_000);
  }
}

export interface DetectionResult {
  diagnosis: DiagnosisView;
  /** 'auto': faultline published it on its own; 'on-demand': the fallback POST after the timeout. */
  source: 'auto' | 'on-demand';
  /** From the injection to the moment the demo saw the diagnosis. */
  delayMs: number;
}

/**
 * Waits for a diagnosis faultline publishes on its own after `afterMs` (a change it
 * detected then, with causes); after `timeoutMs` asks for one (POST) instead.
 */
export async function waitForDiagnosis(
  api: FaultlineApi,
  opts: {
    afterMs: number;
    timeoutMs: number;
    /** The fallback diagnoses [afterMs - fallbackLeadMs, now]: some normal time before the fault, and the fault (default 30 s). */
    fallbackLeadMs?: number;
    /**
     * Diagnoses published sooner than this after afterMs are not about the fault (default
     * 2000): with the demo's 1 s buckets faultline needs 3 s of data after a change before it
     * counts, so one published sooner is about something that changed before the injection.
     */
    minDelayMs?: number;
    /** Called with each watcher diagnosis that was passed over as not about the fault. */
    onIgnored?: (d: DiagnosisSummaryView) => void;
    pollMs?: number;
    onPoll?: () => void;
  },
): Promise<DetectionResult> {
  const deadline = opts.afterMs + opts.timeoutMs;
  const minDelayMs = opts.minDelayMs ?? 2000;
  const ignored = new Set<string>();
  while (Date.now() < deadline) {
    try {
      const published = (await api.diagnoses(20)).filter((d) => d.source === 'watch' && d.createdAtMs > opts.afterMs && d.detected);
      // A change detected before the injection is someone else's news (a few seconds of slack for bucketing).
      const about = (d: DiagnosisSummaryView) =>
        d.createdAtMs >= opts.afterMs + minDelayMs && (d.changeAtMs === undefined || d.changeAtMs >= opts.afterMs - 5_000);
      for (const d of published) {
        if (!about(d) && !ignored.has(d.id)) {
          ignored.add(d.id);
          opts.onIgnored?.(d);
        }
      }
      const found = published.filter(about).sort((a, b) => a.createdAtMs - b.createdAtMs);
      if (found.length) {
        const delayMs = found[0].createdAtMs - opts.afterMs; // when faultline published it
        return { diagnosis: await api.diagnosis(found[0].id), source: 'auto', delayMs };
      }
    } catch {
      /* API not up yet or busy: try again */
    }
    opts.onPoll?.();
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 1500));
  }
  const diagnosis = await api.diagnoseNow({ fromMs: opts.afterMs - (opts.fallbackLeadMs ?? 30_000), toMs: Date.now() });
  return { diagnosis, source: 'on-demand', delayMs: Date.now() - opts.afterMs };
}

/** A diagnosis as a few lines for a terminal. */
export function formatDiagnosis(d: DiagnosisView, maxCauses = 5): string {
  const lines = [`summary: ${d.summary}`];
  if (d.propagationPath?.length) lines.push(`path:    ${d.propagationPath.join(' -> ')}`);
  lines.push('ranked causes:');
  d.causes.slice(0, maxCauses).forEach((c, i) => {
    const where = c.instance ? `${c.service} (${c.instance})` : c.service;
    lines.push(`  ${i + 1}. ${where}  kind=${c.kind}  score=${c.score.toFixed(3)}  confidence=${(c.confidence ?? 0).toFixed(2)}`);
    for (const e of c.evidence.slice(0, 3)) lines.push(`       - ${e.title}`);
  });
  lines.push('explanation:');
  for (const l of (d.explanation ?? '').split('\n')) lines.push(`  ${l}`);
  return lines.join('\n');
}
