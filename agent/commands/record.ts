// `faultline record --from <iso|-Nm> --to <iso|now> --out <dir> [--url ...]`: ask a running
// sidecar to record a window of its store as an incident folder (POST /api/v1/incidents,
// which calls recordIncident in agent/incident/record.ts), then download that folder
// (GET /api/v1/incidents/<id>/archive) into --out, so the sidecar may run elsewhere.

import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar';
import { InvalidArgumentError, type Command } from 'commander';
import { CliError } from '../cli';

export const DEFAULT_SIDECAR_URL = 'http://127.0.0.1:7070';

/** '-15m', '-90s', '-2h', 'now' or an ISO 8601 time -> ms since epoch. */
export function parseTimeArg(v: string, nowMs = Date.now()): { ms: number; relativeMinutes?: number } {
  if (v === 'now') return { ms: nowMs, relativeMinutes: 0 };
  const rel = /^-(\d+(?:\.\d+)?)(s|m|h)$/.exec(v);
  if (rel) {
    const n = Number(rel[1]);
    const ms = n * (rel[2] === 's' ? 1000 : rel[2] === 'm' ? 60_000 : 3_600_000);
    return { ms: nowMs - ms, relativeMinutes: ms / 60_000 };
  }
  // Only full ISO dates: Date.parse would also take "5" or "March".
  if (/^\d{4}-\d{2}-\d{2}/.test(v)) {
    const ms = Date.parse(v);
    if (Number.isFinite(ms)) return { ms };
  }
  throw new InvalidArgumentError(`expected an ISO 8601 time, "now" or a relative time like -15m / -90s / -2h (got "${v}")`);
}

export function register(program: Command): void {
  program
    .command('record')
    .description('Record a time window of a running sidecar as an incident folder (written by the sidecar, then downloaded into --out)')
    .requiredOption('--from <time>', 'window start: ISO 8601 time or relative (-15m, -90s, -2h)')
    .option('--to <time>', 'window end: ISO 8601 time or "now"', 'now')
    .requiredOption('--out <dir>', 'incident folder to create here (must not exist or be empty)')
    .option('--url <url>', "the sidecar's HTTP address", DEFAULT_SIDECAR_URL)
    .option('--id <id>', 'incident id (default: the folder name)')
    .option('--description <text>', 'free text stored in incident.json')
    .option('--token <token>', 'bearer token of the sidecar API (default: $FAULTLINE_TOKEN)')
    .action(async (opts: { from: string; to: string; out: string; url: string; id?: string; description?: string; token?: string }) => {
      const now = Date.now();
      let from, to;
      try {
        from = parseTimeArg(opts.from, now);
        to = parseTimeArg(opts.to, now);
      } catch (e) {
        throw new CliError(`--from/--to: ${(e as Error).message}`);
      }
      if (to.ms <= from.ms) throw new CliError(`--from must be before --to (${new Date(from.ms).toISOString()} .. ${new Date(to.ms).toISOString()})`);
      const out = path.resolve(opts.out);
      const existing = await readdir(out).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? [] : Promise.reject(e)));
      if (existing.length > 0) throw new CliError(`${opts.out}: exists and is not empty; choose a new folder`);
      const id = opts.id ?? path.basename(out);
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id)) throw new CliError(`incident id "${id}" may hold only letters, digits, ".", "_" and "-" (pass --id)`);

      // "-15m .. now" means the last 15 minutes of what the sidecar holds (its clock and data
      // time may differ from ours); anything else is an absolute window.
      const body: Record<string, unknown> =
        to.relativeMinutes === 0 && from.relativeMinutes !== undefined ? { lastMinutes: from.relativeMinutes } : { fromMs: from.ms, toMs: to.ms };
      body.id = id;
      if (opts.description) body.description = opts.description;
      const token = opts.token ?? process.env.FAULTLINE_TOKEN;
      const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};

      const created = await request(opts.url, '/api/v1/incidents', {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const createdBody = (await created.json()) as { incident: { id: string }; spans: number; metricPoints: number };
      const archive = await request(opts.url, `/api/v1/incidents/${encodeURIComponent(createdBody.incident.id)}/archive`, { headers });
      await mkdir(out, { recursive: true });
      try {
        // The archive's entries are under <id>/; strip that so --out is the incident folder.
        await pipeline(Readable.fromWeb(archive.body as import('node:stream/web').ReadableStream), extract({ cwd: out, strip: 1 }));
      } catch (e) {
        throw new CliError(`could not unpack the incident archive into ${out}: ${(e as Error).message}`);
      }
      process.stdout.write(JSON.stringify({ incident: createdBody.incident.id, dir: opts.out, spans: createdBody.spans, metricPoints: createdBody.metricPoints }) + '\n');
    });
}

/** fetch with errors a user can act on: unreachable sidecar, missing endpoint, refusal. */
async function request(base: string, route: string, init: RequestInit): Promise<Response> {
  const url = new URL(route, base).toString();
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(120_000) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (e as Error).message;
    throw new CliError(`the sidecar at ${base} is unreachable (${why}); start it with \`faultline serve\` or pass --url`);
  }
  if (res.ok) return res;
  const text = (await res.text()).slice(0, 500);
  if (res.status === 404 && route === '/api/v1/incidents') throw new CliError(`the sidecar at ${base} has no /api/v1/incidents endpoint (HTTP 404); is it a faultline sidecar?`);
  if (res.status === 401 || res.status === 403) throw new CliError(`the sidecar refused ${route} (HTTP ${res.status}); pass --token or set FAULTLINE_TOKEN. ${text}`);
  throw new CliError(`the sidecar refused ${init.method ?? 'GET'} ${route} (HTTP ${res.status}): ${text}`);
}
