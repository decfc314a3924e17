// Records model responses for the LLM evaluation cases (fixtures/llm/<case>/).
//
//   npx tsx test/llm/record-llm-fixtures.ts [--force] [case...]
//       responses from fixtures/llm/<case>/authored.json (written by hand; no model runs here)
//   OPENAI_BASE_URL=... OPENAI_API_KEY=... FAULTLINE_LLM_MODEL=... npx tsx test/llm/record-llm-fixtures.ts --live [--force] [case...]
//       responses from a live OpenAI-compatible endpoint (hosted, vLLM, llama.cpp, Ollama)
//
// Existing recordings are kept (and served) unless --force; each new one is written as
// response-<key>.json with the key of the request it answers.

import fs from 'node:fs';
import path from 'node:path';
import { explainDiagnosis } from '../../llm';
import { completionBody, startFakeOpenAI, type Reply } from './fake-openai-server';
import { caseConfig, caseStore, FIXTURES_DIR, lastMessage, listCases, loadCase, recordingPath, requestKey, stepOf, type Recording } from './recorded';

async function main() {
  const args = process.argv.slice(2);
  const live = args.includes('--live');
  const force = args.includes('--force');
  const ids = args.filter((a) => !a.startsWith('--'));
  const cases = ids.length ? ids : listCases();
  if (live && !(process.env.OPENAI_BASE_URL || process.env.OPENAI_API_KEY) ) throw new Error('--live needs OPENAI_BASE_URL or OPENAI_API_KEY, and FAULTLINE_LLM_MODEL');
  for (const id of cases) {
    const c = loadCase(id);
    const dir = path.join(FIXTURES_DIR, id);
    if (force) for (const f of fs.readdirSync(dir)) if (f.startsWith('response-')) fs.unlinkSync(path.join(dir, f));
    const authored: Reply[] = live ? [] : JSON.parse(fs.readFileSync(path.join(dir, 'authored.json'), 'utf8'));
    const server = await startFakeOpenAI(async (req) => {
      const key = requestKey(req.body);
      const file = recordingPath(id, key);
      if (fs.existsSync(file)) return { type: 'completion', body: (JSON.parse(fs.readFileSync(file, 'utf8')) as Recording).response };
      const step = stepOf(req.body);
      let response: unknown;
      let from: string;
      if (live) {
        const model = process.env.FAULTLINE_LLM_MODEL ?? 'unknown';
        const base = (process.env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1').replace(/\/$/, '');
        const r = await fetch(`${base}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${process.env.OPENAI_API_KEY ?? 'no-key'}` },
          body: JSON.stringify({ ...req.body, model }),
        });
        if (!r.ok) return { type: 'error', status: r.status, message: await r.text() };
        response = await r.json();
        from = `live:${model}`;
      } else {
        const reply = authored[step - 1];
        if (!reply || reply.type !== 'message') return { type: 'error', status: 500, message: `authored.json of ${id} has no message for step ${step}` };
        response = completionBody(reply, 'recorded', step - 1, req.bodyText.length);
        (response as { created: number }).created = 0;
        from = 'authored';
      }
      const rec: Recording = { key, step, recordedFrom: from, lastMessage: lastMessage(req.body), response };
      fs.writeFileSync(file, JSON.stringify(rec, null, 1) + '\n');
      return { type: 'completion', body: response };
    });
    try {
      const outcome = await explainDiagnosis(c.diagnosis, caseStore(c), caseConfig(c, server.baseURL), c.recentChanges ? { recentChanges: () => c.recentChanges! } : {});
      console.log(`${id}: ${outcome.status}${outcome.reason ? ` (${outcome.reason}: ${outcome.message})` : ''}, ${server.requests.length} request(s), ${outcome.usage.totalTokens} tokens`);
    } finally {
      await server.close();
    }
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
