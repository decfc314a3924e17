// Incidents: recording a window as the spec's folder, the index, the .tar.gz download,
// and replaying uploads, including hostile archives (symlinks, paths leaving the folder,
// too big) and wrong media types.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { readIncidentMeta } from '../../agent/incident/reader';
import { startSidecar, tarEntry, tarGz, type Sidecar } from './helpers';

let sc: Sidecar;
let tmp: string;
beforeAll(async () => {
  sc = await startSidecar({ config: { uploadLimitBytes: 512 * 1024, unpackLimitBytes: 4 * 1024 * 1024 } });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-inc-test-'));
});
afterAll(async () => {
  await sc?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const truth = { service: 'ranker', instance: 'ranker-1', kind: 'cpu', start: '2026-11-20T10:01:12.000Z' };

function upload(body: Buffer, contentType = 'application/gzip', query = '') {
  return sc.app.inject({ method: 'POST', url: `/api/v1/incidents/replay${query}`, payload: body, headers: { 'content-type': contentType } });
}

async function listEntries(archive: Buffer): Promise<string[]> {
  const file = path.join(tmp, `list-${Date.now()}.tar.gz`);
  fs.writeFileSync(file, archive);
  const names: string[] = [];
  await tar.t({ file, onReadEntry: (e) => names.push(e.path) });
  return names;
}

describe('incidents', () => {
  let archive: Buffer;

  test('POST records the window as an incident folder and indexes it', async () => {
    const r = await sc.app.inject({ method: 'POST', url: '/api/v1/incidents', payload: { lastMinutes: 5, id: 'cpu-1', system: 'test', description: 'ranker hot', truth } });
    expect(r.statusCode).toBe(201);
    const body = r.json();
    expect(body.spans).toBe(sc.store.stats().spans);
    expect(body.incident).toMatchObject({ id: 'cpu-1', dir: 'incidents/cpu-1', source: 'api', system: 'test', description: 'ranker hot', truth });
    const dir = path.join(sc.dataDir, 'incidents', 'cpu-1');
    const meta = await readIncidentMeta(dir);
    expect(meta).toMatchObject({ id: 'cpu-1', truth });
    expect(fs.readdirSync(dir)).toEqual(expect.arrayContaining(['incident.json']));

    const list = (await sc.app.inject('/api/v1/incidents')).json();
    expect(list.items.map((i: any) => i.id)).toEqual(['cpu-1']);
    expect((await sc.app.inject('/api/v1/incidents/cpu-1')).json().id).toBe('cpu-1');
  });

  test('a generated id when none is given; duplicates are 409; bad ids and bad truth are 400', async () => {
    const r = await sc.app.inject({ method: 'POST', url: '/api/v1/incidents', payload: { lastMinutes: 1 } });
    expect(r.statusCode).toBe(201);
    expect(r.json().incident.id).toMatch(/^inc-/);
    const dup = await sc.app.inject({ method: 'POST', url: '/api/v1/incidents', payload: { lastMinutes: 5, id: 'cpu-1' } });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.code).toBe('conflict');
    for (const payload of [{ lastMinutes: 5, id: '../escape' }, { lastMinutes: 5, truth: { service: 'x', kind: 'gremlins', start: '2026-01-01T00:00:00Z' } }, { lastMinutes: 5, truth: { service: 'x', kind: 'cpu', start: 'yesterday' } }]) {
      const bad = await sc.app.inject({ method: 'POST', url: '/api/v1/incidents', payload });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.code).toBe('validation');
    }
    expect(fs.existsSync(path.join(sc.dataDir, 'escape'))).toBe(false);
    expect((await sc.app.inject({ method: 'POST', url: '/api/v1/incidents', payload: { fromMs: 1, toMs: 2 } })).statusCode).toBe(422);
  });

  test('GET archive is the folder as .tar.gz under <id>/; unknown is 404', async () => {
    const r = await sc.app.inject('/api/v1/incidents/cpu-1/archive');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('application/gzip');
    expect(r.headers['content-disposition']).toContain('cpu-1.tar.gz');
    archive = r.rawPayload;
    expect(archive[0]).toBe(0x1f);
    expect(archive[1]).toBe(0x8b);
    const names = await listEntries(archive);
    expect(names).toEqual(expect.arrayContaining(['cpu-1/', 'cpu-1/incident.json']));
    expect(names.every((n) => n.startsWith('cpu-1/'))).toBe(true);
    expect((await sc.app.inject('/api/v1/incidents/nope/archive')).statusCode).toBe(404);
  });

  test('replay of the downloaded archive diagnoses it and compares with the truth', async () => {
    const r = await upload(archive);
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body.incident).toBe('cpu-1');
    expect(body.truth).toEqual(truth);
    expect(body.diagnosis.causes.length).toBeGreaterThan(0);
    const rank = body.ranking.findIndex((e: any) => e.service === 'ranker') + 1;
    expect(body.comparison.truthRank).toBe(rank);
    expect(body.comparison.top1).toBe(rank === 1);
    expect(body.comparison.kindMatches).toBe(body.diagnosis.causes.find((c: any) => c.service === 'ranker')?.kind === 'cpu');
    expect(body.persisted).toBe(false);
    expect(sc.state.listDiagnoses().items).toHaveLength(0);
    // Temporary folders are removed.
    expect(fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('faultline-replay-'))).toEqual([]);
  });

  test('replay with persist=true stores the diagnosis', async () => {
    const r = await upload(archive, 'application/x-gzip', '?persist=true');
    expect(r.statusCode).toBe(200);
    const id = r.json().diagnosis.id;
    expect(sc.state.getDiagnosis(id)).toBeDefined();
    expect(sc.state.listDiagnoses().items[0]).toMatchObject({ id, source: 'replay' });
  });

  test('a fixture folder packed at the archive root is accepted too', async () => {
    const src = path.join(__dirname, '..', '..', 'fixtures', 'incidents', 'sim-delay-recall-cf');
    const file = path.join(tmp, 'flat.tar.gz');
    await tar.c({ gzip: true, cwd: src, file }, fs.readdirSync(src));
    const r = await upload(fs.readFileSync(file));
    expect(r.statusCode).toBe(200);
    expect(r.json().truth.service).toBe('recall-cf');
  });

  test.each([
    ['a symlink', [tarEntry('inc/incident.json', '{"id":"x"}'), tarEntry('inc/traces.jsonl', '', '2', '/etc/passwd')], /SymbolicLink/],
    ['a hard link', [tarEntry('inc/incident.json', '{"id":"x"}'), tarEntry('inc/traces.jsonl', '', '1' as '0', 'inc/incident.json')], /Link/],
    ['a path leaving the folder', [tarEntry('../evil.txt', 'pwned'), tarEntry('inc/incident.json', '{"id":"x"}')], /leaves the folder/],
    ['an absolute path', [tarEntry('/tmp/evil.txt', 'pwned')], /absolute|leaves/],
  ])('an archive with %s is refused with 400', async (_what, entries, message) => {
    const r = await upload(tarGz(entries as Buffer[]));
    expect(r.statusCode).toBe(400);
    expect(r.json().error.code).toBe('bad_archive');
    expect(r.json().error.message).toMatch(message);
    expect(fs.existsSync(path.join(os.tmpdir(), 'evil.txt'))).toBe(false);
  });

  test('not an archive, not an incident, wrong media type, too large', async () => {
    const garbage = await upload(Buffer.from('this is not gzip at all'));
    expect(garbage.statusCode).toBe(400);
    const noIncident = await upload(tarGz([tarEntry('readme.txt', 'hello')]));
    expect(noIncident.statusCode).toBe(400);
    expect(noIncident.json().error.code).toBe('bad_incident');
    const badTraces = await upload(tarGz([tarEntry('inc/incident.json', '{"id":"x"}'), tarEntry('inc/traces.jsonl', '{not json\n')]));
    expect(badTraces.statusCode).toBe(400);
    expect(badTraces.json().error.message).toMatch(/traces\.jsonl/);
    const json = await sc.app.inject({ method: 'POST', url: '/api/v1/incidents/replay', payload: 'x', headers: { 'content-type': 'text/plain' } });
    expect(json.statusCode).toBe(415);
    const big = await upload(Buffer.alloc(600 * 1024, 1));
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe('body_too_large');
    // A small upload that unpacks beyond the unpack limit (a gzip bomb) is refused too.
    const bomb = await upload(tarGz([tarEntry('inc/incident.json', '{"id":"x"}'), tarEntry('inc/traces.jsonl', 'a'.repeat(5 * 1024 * 1024))]));
    expect(bomb.statusCode).toBe(413);
    expect(bomb.json().error.message).toMatch(/unpacks to more than/);
  });
});
