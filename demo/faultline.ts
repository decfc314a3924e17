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

export interface RunningFaultline {
  addresses: FaultlineAddresses;
  child: Child;
  stop(): Promise<void>;
}

export const REPO_ROOT = path.resolve(__dirname, '..');

export async function startFaultline(opts: { dataDir: string; apiPort?: number; logFile?: string; readyTimeoutMs?: number; extraArgs?: string[] }): Promise<RunningFaultline> {
  fs.mkdirSync(opts.dataDir, { recursive: true });
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

  async diagnoses(limit = 10): Promise<DiagnosisView[]> {
    const r = await requestJson<{ items: DiagnosisView[] }>('GET', `${this.base}/api/v1/diagnoses?limit=${limit}`);
    return r.items ?? [];
  }

  diagnoseNow(lastMinutes: number): Promise<DiagnosisView> {
    return requestJson('POST', `${this.base}/api/v1/diagnoses`, { lastMinutes }, 120_000);
  }

  recordIncident(body: { lastMinutes: number; truth?: Record<string, unknown>; id?: string; description?: string; system?: string }): Promise<any> {
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
  opts: { afterMs: number; timeoutMs: number; fallbackLastMinutes?: number; pollMs?: number; onPoll?: () => void },
): Promise<DetectionResult> {
  const deadline = opts.afterMs + opts.timeoutMs;
  while (Date.now() < deadline) {
    try {
      const found = (await api.diagnoses(20))
        .filter((d) => d.createdAtMs > opts.afterMs && d.anomaly?.detected !== false && d.causes?.length > 0)
        // A change detected well before the injection is someone else's news.
        .filter((d) => d.anomaly?.changeAtMs === undefined || d.anomaly.changeAtMs >= opts.afterMs - 15_000)
        .sort((a, b) => a.createdAtMs - b.createdAtMs);
      if (found.length) return { diagnosis: found[0], source: 'auto', delayMs: Date.now() - opts.afterMs };
    } catch {
      /* API not up yet or busy: try again */
    }
    opts.onPoll?.();
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 1500));
  }
  const lastMinutes = opts.fallbackLastMinutes ?? Math.max(1, Math.ceil((Date.now() - opts.afterMs) / 60_000) + 1);
  const diagnosis = await api.diagnoseNow(lastMinutes);
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
