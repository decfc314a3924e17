// Linux pressure stall information (PSI, kernel >= 4.20 with CONFIG_PSI): the share of time
// tasks waited on CPU, memory or I/O. Files: <procRoot>/pressure/{cpu,memory,io}, lines
// `some avg10=0.75 avg60=1.40 avg300=1.21 total=6261672` and the same for `full`.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const PSI_RESOURCES = ['cpu', 'memory', 'io'] as const;
export type PsiResource = (typeof PSI_RESOURCES)[number];

export interface PsiLine {
  type: 'some' | 'full';
  avg10: number; // percent of wall time over the last 10 s
  avg60: number;
  avg300: number;
  totalUs: number; // cumulative stall time, microseconds
}

/** Parses one pressure file; throws naming the line when it is not PSI. */
export function parsePsi(text: string, file = 'pressure file'): PsiLine[] {
  const out: PsiLine[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    const m = /^(some|full)\s+avg10=([\d.]+)\s+avg60=([\d.]+)\s+avg300=([\d.]+)\s+total=(\d+)$/.exec(line);
    if (!m) throw new Error(`${file}:${i + 1}: not a PSI line: "${line.slice(0, 80)}"`);
    out.push({ type: m[1] as 'some' | 'full', avg10: Number(m[2]), avg60: Number(m[3]), avg300: Number(m[4]), totalUs: Number(m[5]) });
  }
  return out;
}

export interface PsiReading {
  /** Resources whose file was read; a missing file (kernel without PSI) is simply absent. */
  byResource: Partial<Record<PsiResource, PsiLine[]>>;
  /** Files that exist but could not be read or parsed. */
  errors: string[];
}

export async function readPsi(procRoot: string): Promise<PsiReading> {
  const reading: PsiReading = { byResource: {}, errors: [] };
  await Promise.all(
    PSI_RESOURCES.map(async (r) => {
      const file = join(procRoot, 'pressure', r);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        // ENOENT: no PSI in this kernel; EOPNOTSUPP: PSI compiled in but booted with psi=0.
        if (code !== 'ENOENT' && code !== 'EOPNOTSUPP' && code !== 'ENOTDIR') reading.errors.push(`${file}: ${(e as Error).message}`);
        return;
      }
      try {
        reading.byResource[r] = parsePsi(text, file);
      } catch (e) {
        reading.errors.push((e as Error).message);
      }
    }),
  );
  return reading;
}

/**
 * PSI as points. semconv has no PSI metrics, so each value gets its own name (queries go
 * by name): system.pressure.<cpu|memory|io>.<some|full>.<avg10|avg60|avg300> (gauge, %)
 * and ...total (counter, us).
 */
export function psiToPoints(reading: PsiReading): Array<{ name: string; unit: string; kind: 'gauge' | 'counter'; value: number }> {
  const out: Array<{ name: string; unit: string; kind: 'gauge' | 'counter'; value: number }> = [];
  for (const r of PSI_RESOURCES) {
    for (const line of reading.byResource[r] ?? []) {
      const base = `system.pressure.${r}.${line.type}`;
      out.push(
        { name: `${base}.avg10`, unit: '%', kind: 'gauge', value: line.avg10 },
        { name: `${base}.avg60`, unit: '%', kind: 'gauge', value: line.avg60 },
        { name: `${base}.avg300`, unit: '%', kind: 'gauge', value: line.avg300 },
        { name: `${base}.total`, unit: 'us', kind: 'counter', value: line.totalUs },
      );
    }
  }
  return out;
}
