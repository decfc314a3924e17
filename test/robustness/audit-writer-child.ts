// Child process for faults-tuner.test.ts: appends tuner audit records as fast as it can
// through the real JsonlAuditSink and prints "ack <id>" after each append returns (stdout to
// a pipe is synchronous on Linux, so an ack is only seen once the record was fsynced).

import { JsonlAuditSink } from '../../tuner/audit';

const sink = new JsonlAuditSink(process.argv[2]);
const prefix = process.argv[3];
for (let i = 1; ; i++) {
  const id = `${prefix}-${i}`;
  sink.append({
    id,
    timeMs: Date.now(),
    kind: i % 3 === 0 ? 'rollback' : 'trial',
    service: 'ranker',
    regime: 'peak',
    mode: 'auto',
    reason: `trial ${i} under kill -9 ${'x'.repeat(i % 200)}`,
    applied: { 'ranker-0': { threads: 4 + (i % 8), batch: 16 } },
    verdict: 'kept',
  });
  process.stdout.write(`ack ${id}\n`);
}
