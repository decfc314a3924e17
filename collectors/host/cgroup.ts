// CPU throttling and memory of the cgroup faultline (or a configured path) runs in, for
// cgroup v1, v2 and the hybrid layout (v1 controllers plus /sys/fs/cgroup/unified). For each
// resource the v1 controller is used when it is mounted, else the v2 hierarchy, so nothing
// is counted twice. Paths come from <procRoot>/self/cgroup unless cgroupPath is configured;
// when that path is not visible (a container sees its own cgroup as the root) the
// hierarchy root is read instead.

import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface CgroupCpu {
  version: 1 | 2;
  dir: string;
  periods?: number; // enforcement periods elapsed (nr_periods)
  throttledPeriods?: number; // periods in which the group was throttled (nr_throttled)
  throttledSeconds?: number; // v1 throttled_time (ns) / v2 throttled_usec, in seconds
  usageSeconds?: number; // v1 cpuacct.usage (ns) / v2 usage_usec, in seconds
}

export interface CgroupMemory {
  version: 1 | 2;
  dir: string;
  usageBytes?: number;
  /** Absent when unlimited (v1 sentinel 9223372036854771712 or v2 "max"). */
  limitBytes?: number;
  /** Times usage hit the limit: v1 memory.failcnt, v2 memory.events `max`. */
  limitHits?: number;
  /** OOM kills in the group: v1 memory.oom_control `oom_kill` (kernel >= 4.13), v2 memory.events `oom_kill`. */
  oomKills?: number;
}

export interface CgroupReading {
  cpu?: CgroupCpu;
  memory?: CgroupMemory;
  /** Why a resource is absent, one sentence each. */
  notes: string[];
}

export interface CgroupOptions {
  cgroupRoot: string;
  procRoot: string;
  /** Read this cgroup instead of the one in <procRoot>/self/cgroup (e.g. a sibling container's). */
  cgroupPath?: string;
}

// v1 reports "no limit" as the largest page-aligned signed 64-bit value; anything this large is unlimited.
const V1_UNLIMITED_AT = 2 ** 60;

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

async function readText(p: string): Promise<string | undefined> {
  try {
    return await readFile(p, 'utf8');
  } catch {
    return undefined;
  }
}

/** `key value` lines (cpu.stat, memory.events, memory.oom_control) into a map. */
export function parseFlatKeyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(-?\d+)\s*$/.exec(line.trim());
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** <procRoot>/self/cgroup: v1 controller -> path, and the v2 path (line `0::/path`). */
export function parseProcCgroup(text: string): { v1: Record<string, string>; v2?: string } {
  const v1: Record<string, string> = {};
  let v2: string | undefined;
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === '0' && m[2] === '') v2 = m[3];
    else for (const c of m[2].split(',')) if (c) v1[c] = m[3];
  }
  return { v1, v2 };
}

async function cgroupDir(mount: string, path: string | undefined): Promise<string> {
  if (path && path !== '/') {
    const dir = join(mount, path);
    if (await exists(dir)) return dir;
  }
  return mount;
}

async function v1Mount(root: string, controller: string): Promise<string | undefined> {
  for (const name of [controller, `${controller},cpuacct`, `cpuacct,${controller}`]) {
    const p = join(root, name);
    if (await exists(p)) return p;
  }
  return undefined;
}

async function v2Root(root: string): Promise<string | undefined> {
  if (await exists(join(root, 'cgroup.controllers'))) return root;
  const unified = join(root, 'unified');
  if (await exists(join(unified, 'cgroup.controllers'))) return unified;
  return undefined;
}

export async function readCgroup(opts: CgroupOptions): Promise<CgroupReading> {
  const reading: CgroupReading = { notes: [] };
  const self = parseProcCgroup((await readText(join(opts.procRoot, 'self', 'cgroup'))) ?? '');
  const pathFor = (controller: string) => opts.cgroupPath ?? self.v1[controller];
  const v2path = opts.cgroupPath ?? self.v2;
  const unified = await v2Root(opts.cgroupRoot);

  // CPU
  const cpuMount = await v1Mount(opts.cgroupRoot, 'cpu');
  if (cpuMount) {
    const dir = await cgroupDir(cpuMount, pathFor('cpu'));
    const stat = parseFlatKeyed((await readText(join(dir, 'cpu.stat'))) ?? '');
    const cpu: CgroupCpu = { version: 1, dir, periods: stat.nr_periods, throttledPeriods: stat.nr_throttled };
    if (stat.throttled_time !== undefined) cpu.throttledSeconds = stat.throttled_time / 1e9;
    const acctMount = (await exists(join(dir, 'cpuacct.usage'))) ? dir : await cgroupDir(join(opts.cgroupRoot, 'cpuacct'), pathFor('cpuacct'));
    const usage = await readText(join(acctMount, 'cpuacct.usage'));
    if (usage !== undefined && /^\d+\s*$/.test(usage)) cpu.usageSeconds = Number(usage) / 1e9;
    reading.cpu = cpu;
  } else if (unified) {
    const dir = await cgroupDir(unified, v2path);
    const text = await readText(join(dir, 'cpu.stat'));
    if (text === undefined) reading.notes.push(`cgroup v2 ${dir} has no cpu.stat`);
    else {
      const stat = parseFlatKeyed(text);
      const cpu: CgroupCpu = { version: 2, dir, periods: stat.nr_periods, throttledPeriods: stat.nr_throttled };
      if (stat.throttled_usec !== undefined) cpu.throttledSeconds = stat.throttled_usec / 1e6;
      if (stat.usage_usec !== undefined) cpu.usageSeconds = stat.usage_usec / 1e6;
      if (stat.nr_periods === undefined) reading.notes.push(`cgroup v2 ${dir}: cpu controller not enabled (no throttling counters)`);
      reading.cpu = cpu;
    }
  } else reading.notes.push(`no cgroup cpu hierarchy under ${opts.cgroupRoot}`);

  // Memory
  const memMount = await v1Mount(opts.cgroupRoot, 'memory');
  if (memMount) {
    const dir = await cgroupDir(memMount, pathFor('memory'));
    const num = async (f: string) => {
      const t = await readText(join(dir, f));
      return t !== undefined && /^\d+\s*$/.test(t) ? Number(t) : undefined;
    };
    const mem: CgroupMemory = { version: 1, dir, usageBytes: await num('memory.usage_in_bytes'), limitHits: await num('memory.failcnt') };
    const limit = await num('memory.limit_in_bytes');
    if (limit !== undefined && limit < V1_UNLIMITED_AT) mem.limitBytes = limit;
    const oom = parseFlatKeyed((await readText(join(dir, 'memory.oom_control'))) ?? '');
    if (oom.oom_kill !== undefined) mem.oomKills = oom.oom_kill;
    reading.memory = mem;
  } else if (unified) {
    const dir = await cgroupDir(unified, v2path);
    const current = await readText(join(dir, 'memory.current'));
    if (current === undefined) reading.notes.push(`cgroup v2 ${dir} has no memory.current (root cgroup or memory controller not enabled)`);
    else {
      const mem: CgroupMemory = { version: 2, dir, usageBytes: Number(current) };
      const max = (await readText(join(dir, 'memory.max')))?.trim();
      if (max !== undefined && /^\d+$/.test(max)) mem.limitBytes = Number(max);
      const events = parseFlatKeyed((await readText(join(dir, 'memory.events'))) ?? '');
      if (events.max !== undefined) mem.limitHits = events.max;
      if (events.oom_kill !== undefined) mem.oomKills = events.oom_kill;
      reading.memory = mem;
    }
  } else reading.notes.push(`no cgroup memory hierarchy under ${opts.cgroupRoot}`);

  return reading;
}

/** Cgroup readings as points (container.* names; labelled with cgroup.version). */
export function cgroupToPoints(
  reading: CgroupReading,
): Array<{ name: string; unit: string; kind: 'gauge' | 'counter' | 'updowncounter'; value: number; labels: Record<string, string> }> {
  const out: ReturnType<typeof cgroupToPoints> = [];
  const add = (name: string, unit: string, kind: 'gauge' | 'counter' | 'updowncounter', value: number | undefined, version: 1 | 2) => {
    if (value !== undefined && Number.isFinite(value)) out.push({ name, unit, kind, value, labels: { 'cgroup.version': String(version) } });
  };
  const c = reading.cpu;
  if (c) {
    add('container.cpu.time', 's', 'counter', c.usageSeconds, c.version);
    add('container.cpu.periods', '{period}', 'counter', c.periods, c.version);
    add('container.cpu.throttled_periods', '{period}', 'counter', c.throttledPeriods, c.version);
    add('container.cpu.throttled_time', 's', 'counter', c.throttledSeconds, c.version);
  }
  const m = reading.memory;
  if (m) {
    add('container.memory.usage', 'By', 'updowncounter', m.usageBytes, m.version);
    add('container.memory.limit', 'By', 'updowncounter', m.limitBytes, m.version);
    if (m.limitBytes !== undefined && m.limitBytes > 0 && m.usageBytes !== undefined) add('container.memory.utilization', '1', 'gauge', m.usageBytes / m.limitBytes, m.version);
    add('container.memory.limit_hits', '{event}', 'counter', m.limitHits, m.version);
    add('container.memory.oom_kills', '{event}', 'counter', m.oomKills, m.version);
  }
  return out;
}
