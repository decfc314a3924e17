// `faultline import nezha`: a small dataset in Nezha's layout (rca_data/<day>/..., 
// construct_data/<day>/trace) written here, imported by the real CLI, then replayed.

import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadIncident } from '../../agent/incident/reader';
import { runFaultline } from '../helpers/run-faultline';


const faultline = (args: string[]) => runFaultline(args);

const DAY = '2023-01-29';
const PODS = {
  gateway: 'ts-gateway-service-6f6cfc45b-h5m2n',
  travel: 'ts-travel-service-5f7b8c9d6-abcde',
  basic: 'ts-basic-service-5dc8d4f9fd-46997',
  station: 'ts-station-service-7c9d8b6f5-zyxwv',
};
const FAULTS = [
  { inject_time: `${DAY} 10:05:10`, inject_pod: PODS.basic, inject_type: 'cpu_contention' },
  { inject_time: `${DAY} 10:20:30`, inject_pod: PODS.station, inject_type: 'exception' },
];

let n = 0;
const hex = (len: number) => (++n).toString(16).padStart(len, '0');

/** One minute of traces: gateway -> travel -> {basic, station}; slow basic when `slowBasic`. */
function traceCsv(minuteStartMs: number, slowBasic: boolean): string {
  const rows = ['TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration'];
  for (let i = 0; i < 30; i++) {
    const t0 = (minuteStartMs + i * 2000) * 1e6;
    const trace = hex(32);
    const [g, tr, b, s] = [hex(16), hex(16), hex(16), hex(16)];
    const basicUs = slowBasic ? 40_000 : 4_000;
    const span = (id: string, parent: string, pod: string, op: string, startNs: number, us: number) =>
      rows.push(`${trace},${id},${parent},${pod},${op},${startNs},${startNs + us * 1000},${us}`);
    span(g, 'root', PODS.gateway, '/api/v1/travelservice/trips/left', t0, 20_000 + basicUs);
    span(tr, g, PODS.travel, 'TravelController.queryInfo', t0 + 1e6, 15_000 + basicUs);
    span(b, tr, PODS.basic, 'BasicController.queryForTravel', t0 + 2e6, basicUs);
    span(s, tr, PODS.station, 'StationController.queryById', t0 + 3e6 + basicUs * 1000, 3_000);
  }
  return rows.join('\n') + '\n';
}

function metricCsv(pod: string, fromMs: number, minutes: number): string {
  const header =
    'Time,TimeStamp,PodName,CpuUsage(m),CpuUsageRate(%),MemoryUsage(Mi),MemoryUsageRate(%),NodeCpuUsageRate(%),NodeMemoryUsageRate(%)';
  const rows = [header];
  for (let m = 0; m < minutes; m++) {
    const t = fromMs + m * 60_000;
    const hot = pod === PODS.basic && t >= Date.parse(`${DAY}T10:05:10Z`) && t < Date.parse(`${DAY}T10:09:00Z`);
    rows.push(`${new Date(t).toISOString()},${t / 1000},${pod},${hot ? 900 : 40},${hot ? 90 : 4},400,20,30,40`);
  }
  return rows.join('\n') + '\n';
}

let tmp: string;
let nezhaRoot: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'faultline-import-'));
  nezhaRoot = path.join(tmp, 'nezha');
  const day = path.join(nezhaRoot, 'rca_data', DAY);
  await mkdir(path.join(day, 'trace'), { recursive: true });
  await mkdir(path.join(day, 'metric'), { recursive: true });
  await writeFile(path.join(day, `${DAY}-fault_list.json`), JSON.stringify({ '10': FAULTS.map((f) => ({ ...f, inject_timestamp: '0' })) }, null, 2));
  for (const f of FAULTS) {
    const start = Date.parse(f.inject_time.replace(' ', 'T') + 'Z');
    for (let k = 0; k < 3; k++) {
      const minute = new Date(Math.floor(start / 60_000) * 60_000 + k * 60_000);
      const name = `${String(minute.getUTCHours()).padStart(2, '0')}_${String(minute.getUTCMinutes()).padStart(2, '0')}_trace.csv`;
      await writeFile(path.join(day, 'trace', name), traceCsv(minute.getTime(), f.inject_type === 'cpu_contention'));
    }
  }
  for (const pod of Object.values(PODS)) await writeFile(path.join(day, 'metric', `${pod}_metric.csv`), metricCsv(pod, Date.parse(`${DAY}T09:40:00Z`), 50));
  const construct = path.join(nezhaRoot, 'construct_data', DAY, 'trace');
  await mkdir(construct, { recursive: true });
  await writeFile(path.join(construct, '09_50_trace.csv'), traceCsv(Date.parse(`${DAY}T09:50:00Z`), false));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('faultline import nezha', () => {
  it('writes one incident folder per fault, with truth and a fault-free baseline, that replays', async () => {
    const out = path.join(tmp, 'incidents');
    const run = await faultline(['import', 'nezha', nezhaRoot, out]);
    expect(run.stderr).toMatch(/imported 2 incident\(s\)/);
    expect(run.code).toBe(0);
    const ids = (await readdir(out)).sort();
    expect(ids).toEqual(['nezha-tt-2023-01-29-1005-cpu_contention', 'nezha-tt-2023-01-29-1020-exception']);
    const cpuDir = path.join(out, ids[0]);
    expect((await readdir(cpuDir)).sort()).toEqual(['baseline', 'incident.json', 'metrics.jsonl.gz', 'traces.jsonl.gz']);
    const meta = JSON.parse(await readFile(path.join(cpuDir, 'incident.json'), 'utf8'));
    expect(meta).toMatchObject({ id: ids[0], truth: { service: 'ts-basic-service', instance: PODS.basic, kind: 'cpu', start: '2023-01-29T10:05:10Z' } });
    const { snapshot } = await loadIncident(cpuDir);
    expect(snapshot.spans.length).toBe(3 * 30 * 4);
    expect(new Set(snapshot.spans.map((s) => s.service))).toEqual(new Set(['ts-gateway-service', 'ts-travel-service', 'ts-basic-service', 'ts-station-service']));
    expect(snapshot.baseline!.spans.length).toBe(30 * 4);

    const bench = await faultline(['bench', out, '--json']);
    expect(bench.code).toBe(0);
    const report = JSON.parse(bench.stdout);
    expect(report).toMatchObject({ incidents: 2, scored: 2, errors: 0 });
    expect(Object.keys(report.byKind).sort()).toEqual(['cpu', 'error']);
  });

  it('fails clearly on a folder that is not a Nezha dataset', async () => {
    const run = await faultline(['import', 'nezha', path.join(tmp, 'nothing-here'), path.join(tmp, 'out2')]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/no rca_data folder/);
  });
});
