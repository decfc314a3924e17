// `faultline record --from <iso|-Nm> --to <iso|now> --out <dir> [--url ...]`: ask a running
// sidecar to record a window of its store as an incident folder (POST /api/v1/incidents,
// which calls recordIncident in agent/incident/record.ts).

import path from 'node:path';
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
    .description('record a time window of a running sidecar as an incident folder')
    .requiredOption('--from <time>', 'window start: ISO 8601 time or relative (-15m, -90s, -2h)')
    .option('--to <time>', 'window end: ISO 8601 time or "now"', 'now')
    .requiredOption('--out <dir>', 'incident folder to write (on the sidecar\'s file system)')
    .option('--url <url>', 'the sidecar\'s HTTP address', DEFAULT_SIDECAR_URL)
    .option('--id <id>', 'incident id (default: the folder name)')
    .option('--description <text>', 'free text stored in incident.json')
    .action(async (opts: { from: string; to: string; out: string; url: string; id?: string; description?: string }) => {
      const now = Date.now();
      let from, to;
      try {
        from = parseTimeArg(opts.from, now);
        to = parseTimeArg(opts.to, now);
      } catch (e) {
        throw new CliError(`--from/--to: ${(e as Error).message}`);
      }
      if (to.ms <= from.ms) throw new CliError(`--from must be before --to (${new Date(from.ms).toISOString()} .. ${new Date(to.ms).toISOString()})`);
      const dir = path.resolve(opts.out);
      const body: Record<string, unknown> =
        to.relativeMinutes === 0 && from.relativeMinutes !== undefined ? { lastMinutes: from.relativeMinutes } : { fromMs: from.ms, toMs: to.ms };
      body.dir = dir;
      body.id = opts.id ?? path.basename(dir);
      if (opts.description) body.description = opts.description;

      const endpoint = new URL('/api/v1/incidents', opts.url).toString();
      let res: Response;
      try {
        res = await fetch(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(120_000),
        });
      } catch (e) {
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        const why = cause?.code ?? cause?.message ?? (e as Error).message;
        throw new CliError(`the sidecar at ${opts.url} is unreachable (${why}); start it with \`faultline serve\` or pass --url`);
      }
      const text = await res.text();
      if (res.status === 404) throw new CliError(`the sidecar at ${opts.url} has no ${'/api/v1/incidents'} endpoint (HTTP 404); is it a faultline sidecar of this version?`);
      if (!res.ok) throw new CliError(`the sidecar refused the recording (HTTP ${res.status}): ${text.slice(0, 500)}`);
      process.stdout.write(text.endsWith('\n') ? text : text + '\n');
    });
}
