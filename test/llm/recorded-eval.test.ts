// Replay evaluation over recorded model responses (fixtures/llm/<case>/): the LLM step must
// never lower accuracy against the deterministic ranking, and what it keeps must cite only
// evidence that exists. A missing recording fails with instructions to record it.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { maybeExplain, citedIds, type LlmRecord } from '../../llm';
import type { Diagnosis } from '../../model/diagnosis';
import { startFakeOpenAI } from './fake-openai-server';
import { caseConfig, caseStore, listCases, loadCase, recordingPath, requestKey, type Recording } from './recorded';

const cases = listCases();

interface Row {
  id: string;
  without: number | undefined; // 1-based rank of the true service
  with: number | undefined;
}
const rows: Row[] = [];

const rankOf = (d: Diagnosis, service: string) => {
  const i = d.causes.findIndex((c) => c.service === service);
  return i < 0 ? undefined : i + 1;
};
const acAt = (k: number, pick: (r: Row) => number | undefined) => rows.filter((r) => (pick(r) ?? Infinity) <= k).length / rows.length;

test('there are recorded cases', () => {
  expect(cases.length).toBeGreaterThanOrEqual(5);
});

describe.each(cases)('%s', (id) => {
  test('replays from recordings, grounded, never worse than the deterministic ranking', async () => {
    const c = loadCase(id);
    const missing: string[] = [];
    const server = await startFakeOpenAI((req) => {
      const key = requestKey(req.body);
      const file = recordingPath(id, key);
      if (!fs.existsSync(file)) {
        const saved = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-llm-missing-')), `${key}.request.json`);
        fs.writeFileSync(saved, JSON.stringify(req.body, null, 1));
        missing.push(
          `no recorded response for fixtures/llm/${id} with key ${key} (request saved at ${saved}). ` +
            `The request changed (evidence packet, tools or their results). Record again: ` +
            `npx tsx test/llm/record-llm-fixtures.ts --force ${id}   (from authored.json), or with OPENAI_BASE_URL/OPENAI_API_KEY/FAULTLINE_LLM_MODEL set: ` +
            `npx tsx test/llm/record-llm-fixtures.ts --live --force ${id}`,
        );
        return { type: 'error', status: 500, message: 'no recording' };
      }
      return { type: 'completion', body: (JSON.parse(fs.readFileSync(file, 'utf8')) as Recording).response };
    });
    let d: Diagnosis;
    try {
      d = await maybeExplain(c.diagnosis, caseStore(c), caseConfig(c, server.baseURL), c.recentChanges ? { recentChanges: () => c.recentChanges! } : {});
    } finally {
      await server.close();
    }
    if (missing.length) throw new Error(missing.join('\n'));
    expect(server.protocolErrors).toEqual([]);
    const r = d.llm as LlmRecord;
    if (c.expect?.status) expect(r.status).toBe(c.expect.status);
    if (c.expect?.changes !== undefined) expect(r.changes).toHaveLength(c.expect.changes);
    if (c.expect?.droppedHypotheses !== undefined) expect(r.rejectedHypotheses).toHaveLength(c.expect.droppedHypotheses);
    if (c.expect?.refused) expect(r.refusedPromotions.map((x) => x.service)).toEqual(c.expect.refused);

    // Grounding: everything kept cites only evidence that exists.
    const known = new Set([...c.diagnosis.causes.flatMap((x) => x.evidence.map((e) => e.id)), ...r.toolCalls.filter((t) => t.status === 'ok').map((t) => t.id)]);
    for (const h of r.hypotheses) {
      expect(h.evidenceIds.length).toBeGreaterThan(0);
      for (const e of [...h.evidenceIds, ...citedIds(h.statement)]) expect(known).toContain(e);
    }
    if (r.explanation) for (const e of citedIds(r.explanation)) expect(known).toContain(e);
    for (const e of citedIds(d.explanation)) expect(known).toContain(e);

    const row = { id, without: rankOf(c.diagnosis, c.truth.service), with: rankOf(d, c.truth.service) };
    rows.push(row);
    // Per case: the true service never moves down.
    expect(row.with ?? Infinity).toBeLessThanOrEqual(row.without ?? Infinity);
  });
});

afterAll(() => {
  if (rows.length !== cases.length) return;
  const report = [1, 3, 5].map((k) => `AC@${k} ${acAt(k, (r) => r.without).toFixed(2)} -> ${acAt(k, (r) => r.with).toFixed(2)}`).join(', ');
  // Printed for docs/llm.md; the per-case assertions above are what fails the suite.
  process.stdout.write(`LLM recorded eval over ${rows.length} cases: ${report}\n`);
  for (const k of [1, 3, 5]) expect(acAt(k, (r) => r.with)).toBeGreaterThanOrEqual(acAt(k, (r) => r.without));
});
