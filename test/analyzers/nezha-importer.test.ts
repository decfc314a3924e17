// The Nezha importer on a tiny dataset written to a temp folder: day discovery, span kinds
// derived from structure, pod -> service, hosts inferred from node readings, baseline from
// the nearest day with fault-free traces, and clear errors naming a missing file.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { listNezhaFaults, loadNezhaIncident, serviceOfPod } from '../../agent/importers/nezha';

const HEADER = 'TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration';
const METRIC_HEADER = 'Time,TimeStamp,PodName,CpuUsage(m),CpuUsageRate(%),MemoryUsage(Mi),NodeCpuUsageRate(%),NodeMemoryUsageRate(%)';
const GW = 'ts-gateway-service-6f6cfc45b-h5m2n';
const BASIC = 'ts-basic-service-5dc8d4f9fd-46997';

function ns(ms: number): string {
  return `${ms}000000`;
}

function traceRows(fromMs: number, count: number): string {
  const rows = [HEADER];
  for (let i = 0; i < count; i++) {
    const t = fromMs + i * 1000;
    const tid = (i + 1).toString(16).padStart(32, 'a');
    rows.push(`${tid},r${i},root,${GW},/*,${ns(t)},${ns(t + 10)},10000`);
    rows.push(`${tid},c${i},r${i},${GW},HTTP POST,${ns(t + 1)},${ns(t + 9)},8000`);
    rows.push(`${tid},s${i},c${i},${BASIC},/api/v1/basicservice/basic/travel,${ns(t + 2)},${ns(t + 8)},6000`);
    rows.push(`${tid},q${i},s${i},${BASIC},SELECT ts.basic,${ns(t + 3)},${ns(t + 4)},1000`);
  }
  return rows.join('\n') + '\n';
}

function metricRows(pod: string, fromSec: number, minutes: number, node: number): string {
  const rows = [METRIC_HEADER];
  for (let m = 0; m < minutes; m++) rows.push(`2024-01-02 x,${fromSec + m * 60},${pod},5,1,400,${node + m * 0.1},${30 + node}`);
  return rows.join('\n') + '\n';
}

describe('Nezha importer', () => {
  let root: string;
  const inject = Date.UTC(2024, 0, 2, 10, 5, 20);
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'nezha-'));
    const day = path.join(root, 'rca_data', '2024-01-02');
    fs.mkdirSync(path.join(day, 'trace'), { recursive: true });
    fs.mkdirSync(path.join(day, 'metric'), { recursive: true });
    fs.writeFileSync(path.join(day, '2024-01-02-fault_list.json'), JSON.stringify({
      '10': [
        { inject_time: '2024-01-02 10:05:20', inject_timestamp: '0', inject_pod: BASIC, inject_type: 'network_delay' },
        { inject_time: '2024-01-02 10:30:00', inject_timestamp: '0', inject_pod: BASIC, inject_type: 'exception' },
      ],
    }));
    for (const [k, mm] of ['05', '06', '07'].entries()) fs.writeFileSync(path.join(day, 'trace', `10_${mm}_trace.csv`), traceRows(inject - 60_000 + k * 60_000, 30));
    // 10_31 and 10_32 are missing for the second fault.
    fs.writeFileSync(path.join(day, 'trace', '10_30_trace.csv'), traceRows(inject + 25 * 60_000, 5));
    const from = Math.floor(inject / 1000) - 20 * 60;
    fs.writeFileSync(path.join(day, 'metric', `${GW}_metric.csv`), metricRows(GW, from, 40, 10));
    fs.writeFileSync(path.join(day, 'metric', `${BASIC}_metric.csv`), metricRows(BASIC, from, 40, 20));
    fs.writeFileSync(path.join(day, 'metric', 'front_service.csv'), 'Time,TimeStamp,ServiceName,SuccessRate(%),LatencyP90(s)\n' + Array.from({ length: 40 }, (_, m) => `x,${from + m * 60},Frontend,0,0.5`).join('\n') + '\n');
    // Fault-free traces exist for another day only: the nearest one is used.
    const cons = path.join(root, 'construct_data', '2024-01-01', 'trace');
    fs.mkdirSync(cons, { recursive: true });
    fs.writeFileSync(path.join(cons, '08_50_trace.csv'), traceRows(inject - 86_400_000, 20));
    fs.mkdirSync(path.join(root, 'construct_data', '2023-06-01', 'trace'), { recursive: true });
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('names services after pods', () => {
    expect(serviceOfPod('ts-basic-service-5dc8d4f9fd-46997')).toBe('ts-basic-service');
    expect(serviceOfPod('redis')).toBe('redis');
  });

  it('discovers days and faults with UTC inject times', () => {
    const faults = listNezhaFaults(root);
    expect(faults).toEqual([
      { day: '2024-01-02', hour: '10', index: 0, injectTime: '2024-01-02T10:05:20Z', pod: BASIC, type: 'network_delay' },
      { day: '2024-01-02', hour: '10', index: 1, injectTime: '2024-01-02T10:30:00Z', pod: BASIC, type: 'exception' },
    ]);
  });

  it('converts spans, metrics, baseline and truth', () => {
    const inc = loadNezhaIncident(root, listNezhaFaults(root)[0]);
    expect(inc.truth).toEqual({ service: 'ts-basic-service', instance: BASIC, kind: 'delay', start: '2024-01-02T10:05:20Z' });
    expect(inc.spans).toHaveLength(3 * 30 * 4);
    const byName = new Map(inc.spans.map((s) => [s.name, s]));
    expect(byName.get('/*')!.kind).toBe(2); // root: SERVER
    expect(byName.get('HTTP POST')!.kind).toBe(3); // has a child in another service: CLIENT
    expect(byName.get('/api/v1/basicservice/basic/travel')!.kind).toBe(2); // parent elsewhere: SERVER
    expect(byName.get('SELECT ts.basic')!.kind).toBe(1); // INTERNAL
    expect(byName.get('SELECT ts.basic')!.durationMs).toBeCloseTo(1, 9);
    expect(inc.spans.every((s) => s.status === 0)).toBe(true);
    const gwHost = inc.spans.find((s) => s.service === 'ts-gateway-service')!.host;
    const basicHost = inc.spans.find((s) => s.service === 'ts-basic-service')!.host;
    expect(gwHost).toMatch(/^node-\d+$/);
    expect(basicHost).not.toBe(gwHost); // different node readings -> different hosts
    const cpu = inc.metrics.filter((m) => m.name === 'CpuUsageRate' && m.service === 'ts-basic-service');
    expect(cpu.length).toBeGreaterThanOrEqual(3);
    expect(cpu[0]).toMatchObject({ unit: '%', kind: 'gauge', instance: BASIC, host: basicHost });
    const node = inc.metrics.filter((m) => m.name === 'NodeCpuUsageRate');
    expect(node.every((m) => m.service === '' && m.host !== '')).toBe(true);
    expect(inc.metrics.some((m) => m.name === 'front.LatencyP90' && m.service === '' && m.host === '')).toBe(true);
    // Baseline: fault-free traces of the nearest day, and metric rows before the fault.
    expect(inc.baseline.spans).toHaveLength(20 * 4);
    const baseTimes = inc.baseline.metrics.map((m) => m.timeMs);
    expect(Math.max(...baseTimes)).toBeLessThan(inject - 60_000);
    expect(inc.description).toContain('construct_data/2024-01-01');
  });

  it('names the missing file', () => {
    expect(() => loadNezhaIncident(root, listNezhaFaults(root)[1])).toThrow(/trace file .*10_31_trace\.csv.* is missing/);
    expect(() => listNezhaFaults(path.join(root, 'nowhere'))).toThrow(/no rca_data folder/);
  });
});
