import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { startAdmin, stopAdmin, type AdminInstance } from './harness';

const BIN = path.join(__dirname, '../../bin/faultline.cjs');

function run(args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

describe('faultline tune simulate (the issue\'s benchmark command)', () => {
  it('the cache-backed service gets within 5 % of its optimum in most of 20 seeds at every load, with far fewer unsafe trials than random search', async () => {
    // A child process, as a user runs it: inside Jest's module sandbox the simulator's numeric
    // loops run ~7× slower. Deterministic for the seed set. Until session 7 the shares were
    // 0.40 / 0.40 / 0.80; docs/tuner.md (Figures) has the 120-seed means.
    const r = await run(['tune', 'simulate', '--seeds', '20', '--scenario', 'cache-backed', '--json'], 120_000);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { regime: string; withinFivePercent: number; unsafeTrials: number; randomSearchUnsafeTrials: number });
    expect(lines.map((l) => l.regime)).toEqual(['300rps-zipf0.9', '1500rps-zipf0.9', '4000rps-zipf1.1']);
    for (const l of lines) {
      expect(l.withinFivePercent).toBeGreaterThan(0.5);
      expect(l.unsafeTrials).toBeLessThan(l.randomSearchUnsafeTrials / 3);
    }
  }, 150_000);
});

describe('faultline tune (CLI)', () => {
  let admin: AdminInstance | undefined;
  let app: http.Server | undefined;
  let dir = '';
  afterEach(async () => {
    await stopAdmin(admin);
    await new Promise<void>((r) => (app ? app.close(() => r()) : r()));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('tune run probes the target, suggests, applies in auto mode and writes the audit file', async () => {
    admin = await startAdmin('svc-1', { workers: 4 });
    // the service's request path: fast when workers ≥ 6
    app = http.createServer((_req, res) => setTimeout(() => res.end('ok'), Number(admin!.knobs.workers) >= 6 ? 1 : 8));
    await new Promise<void>((r) => app!.listen(0, '127.0.0.1', () => r()));
    const probe = `http://127.0.0.1:${(app.address() as AddressInfo).port}/`;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tune-cli-'));
    const cfg = path.join(dir, 'tuner.yaml');
    fs.writeFileSync(
      cfg,
      [
        'tuner:',
        '  service: svc',
        '  knobs: [{name: workers, type: int, min: 1, max: 16, maxStep: 4, default: 4}]',
        '  applier: {kind: http, targets: [{instance: x, url: "http://127.0.0.1:1"}]}',
        '  regimes: {minDwellMs: 0}',
        '  evaluation: {windowMs: 600, minRequests: 5, settleMs: 0}',
        '  guardrails: {minIntervalMs: 0, firstChangeApproval: false, approvedRanges: {workers: {min: 2, max: 8}}}',
      ].join('\n'),
    );
    const audit = path.join(dir, 'audit.jsonl');
    const r = await run(['tune', 'run', '--config', cfg, '--target', admin.url, '--probe-url', probe, '--probe-rps', '40', '--mode', 'auto', '--iterations', '2', '--audit', audit, '--json']);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0].regime).toMatch(/rps/);
    const records = fs.readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const trials = records.filter((x) => x.kind === 'trial');
    expect(trials.length).toBeGreaterThan(0);
    // the audit agrees with what the service runs now
    const last = trials[trials.length - 1];
    expect(admin.knobs.workers).toBe(last.verdict === 'kept' ? last.applied['target-0'].workers : last.previous.workers);
    for (const p of admin.puts) expect(Number(p.workers)).toBeLessThanOrEqual(8);
  }, 60_000);

  it('tune run without a config file reads the knob specs the target describes', async () => {
    admin = await startAdmin('svc-1', { workers: 4, sizeMb: 100 }, { describe: { workers: { min: 1, max: 16, integer: true }, sizeMb: { min: 0, max: 4096 } } });
    app = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => app!.listen(0, '127.0.0.1', () => r()));
    const probe = `http://127.0.0.1:${(app.address() as AddressInfo).port}/`;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tune-cli-'));
    const audit = path.join(dir, 'audit.jsonl');
    const r = await run(['tune', 'run', '--target', admin.url, '--knob', 'workers', '--probe-url', probe, '--probe-rps', '40', '--window-ms', '1000', '--iterations', '1', '--audit', audit, '--json']);
    expect(r.stderr).toBe('');
    const line = JSON.parse(r.stdout.trim());
    // observe mode by default: a suggestion on the described knob only, nothing applied
    expect(Object.keys(line.suggestion.config)).toEqual(['workers']);
    expect(admin.puts).toHaveLength(0);
  }, 60_000);

  it('bad config is a clear error naming the file and field', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tune-cli-'));
    const cfg = path.join(dir, 'bad.yaml');
    fs.writeFileSync(cfg, 'tuner:\n  service: s\n  knobs: [{name: a, type: int, min: 5, max: 1, default: 3}]\n  applier: {kind: http, targets: [{instance: x, url: "http://127.0.0.1:1"}]}\n');
    const r = await run(['tune', 'run', '--config', cfg, '--iterations', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(cfg);
    expect(r.stderr).toMatch(/knob a: needs min < max/);
  }, 60_000);
});
