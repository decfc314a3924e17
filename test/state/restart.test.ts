// Crash safety: a real sidecar process records incidents and diagnoses through the API, is
// killed with SIGKILL the moment the last response is acknowledged, and started again on the
// same data directory: everything acknowledged is still there, byte for byte.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const CHILD = path.join(__dirname, 'restart-child.ts');

let dataDir: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-restart-'));
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function startChild(): Promise<{ child: ChildProcess; base: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', 'tsx/cjs', CHILD], {
      cwd: ROOT,
      env: { ...process.env, FAULTLINE_DATA_DIR: dataDir, FAULTLINE_TOKEN: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`child did not start in 20 s; stderr:\n${err}`)), 20_000);
    child.stdout!.on('data', (c) => {
      out += c;
      const m = /PORT (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, base: `http://127.0.0.1:${m[1]}` });
      }
    });
    child.stderr!.on('data', (c) => (err += c));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code ?? signal}) before listening; stderr:\n${err}`));
    });
  });
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

async function postJson(base: string, url: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(base + url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

test('acknowledged diagnoses and incidents survive kill -9 and a restart', async () => {
  const first = await startChild();
  const diagnoses: any[] = [];
  const incidents: any[] = [];
  for (let i = 0; i < 3; i++) {
    const d = await postJson(first.base, '/api/v1/diagnoses', { lastMinutes: 5 });
    expect(d.status).toBe(201);
    diagnoses.push(d.json);
  }
  const inc = await postJson(first.base, '/api/v1/incidents', { lastMinutes: 5, id: 'before-crash', truth: { service: 'ranker', kind: 'cpu', start: '2026-11-20T10:01:12.000Z' } });
  expect(inc.status).toBe(201);
  incidents.push(inc.json.incident);
  const last = await postJson(first.base, '/api/v1/diagnoses', { lastMinutes: 2 });
  expect(last.status).toBe(201);
  diagnoses.push(last.json);
  // No graceful anything: the moment the last write is acknowledged, the process dies.
  first.child.kill('SIGKILL');
  await killed(first.child);
  expect(first.child.signalCode).toBe('SIGKILL');

  const second = await startChild();
  try {
    for (const d of diagnoses) {
      const res = await fetch(`${second.base}/api/v1/diagnoses/${d.id}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual(d);
    }
    const list = (await (await fetch(`${second.base}/api/v1/diagnoses?limit=100`)).json()) as { items: Array<{ id: string }> };
    expect(list.items.map((s: any) => s.id).sort()).toEqual(diagnoses.map((d) => d.id).sort());
    const incList = (await (await fetch(`${second.base}/api/v1/incidents`)).json()) as { items: unknown[] };
    expect(incList.items).toEqual(incidents);
    const archive = await fetch(`${second.base}/api/v1/incidents/before-crash/archive`);
    expect(archive.status).toBe(200);
    const bytes = Buffer.from(await archive.arrayBuffer());
    expect(bytes.length).toBeGreaterThan(1000);
    // The restarted process keeps working on the same state.
    expect((await postJson(second.base, '/api/v1/diagnoses', { lastMinutes: 5 })).status).toBe(201);
  } finally {
    second.child.kill('SIGKILL');
    await killed(second.child);
  }
}, 60_000);
