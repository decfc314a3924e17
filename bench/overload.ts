// Overload scenario by hand (see bench/lib/overload.ts): prints each requirement PASS/FAIL
// with its figures and writes JSON.
//
//   npx tsx bench/overload.ts [--limit-mib 200] [--budget-mib 16] [--inflight-mib 2]
//       [--detection-seconds 5] [--generators 2] [--seconds 20] [--recover-seconds 10]
//       [--out bench/results/overload.json]

import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_OVERLOAD, runOverload } from './lib/overload';

function arg(argv: string[], name: string, dflt: number): number {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? Number(argv[i + 1]) : dflt;
}

async function main(argv: string[]): Promise<number> {
  const i = argv.indexOf('--out');
  const out = path.resolve(i >= 0 ? argv[i + 1] : path.join(__dirname, 'results', 'overload.json'));
  const r = await runOverload({
    memorySoftLimitMiB: arg(argv, 'limit-mib', DEFAULT_OVERLOAD.memorySoftLimitMiB),
    storeBudgetMiB: arg(argv, 'budget-mib', DEFAULT_OVERLOAD.storeBudgetMiB),
    maxInflightMiB: arg(argv, 'inflight-mib', DEFAULT_OVERLOAD.maxInflightMiB),
    detectionIntervalSeconds: arg(argv, 'detection-seconds', DEFAULT_OVERLOAD.detectionIntervalSeconds),
    generators: arg(argv, 'generators', DEFAULT_OVERLOAD.generators),
    overloadSeconds: arg(argv, 'seconds', DEFAULT_OVERLOAD.overloadSeconds),
    recoverSeconds: arg(argv, 'recover-seconds', DEFAULT_OVERLOAD.recoverSeconds),
    log: (m) => process.stderr.write(`overload: ${m}\n`),
  });
  for (const c of r.checks) process.stdout.write(`${c.pass ? 'PASS' : 'FAIL'}  ${c.name.padEnd(10)} ${c.detail}\n`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), ...r }, null, 2) + '\n');
  process.stdout.write(`written ${out}\n`);
  return r.checks.every((c) => c.pass) ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e) => {
    process.stderr.write(`overload: ${(e as Error).stack}\n`);
    process.exitCode = 2;
  },
);
