// The recorded-incident folder (../../../shared/spec/incident-format.md, a contract other
// tools read): names of the files, incident.json's shape and its validation.

import { FAULT_KINDS, type FaultKind } from '../../model/diagnosis';

export const INCIDENT_FILE = 'incident.json';
export const TRACES_FILE = 'traces.jsonl';
export const METRICS_FILE = 'metrics.jsonl';
export const BASELINE_DIR = 'baseline';

/** Ground truth, used only for scoring after a ranking exists. */
export interface IncidentTruth {
  service: string;
  instance?: string;
  kind: FaultKind;
  /** ISO 8601 time the fault started. */
  start: string;
}

export interface IncidentMeta {
  id: string;
  system?: string;
  description?: string;
  truth?: IncidentTruth;
  /** Anything else a recorder put there is kept as is. */
  [extra: string]: unknown;
}

export class IncidentFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IncidentFormatError';
  }
}

/** Checks incident.json's content; `where` names the file in messages. */
export function parseIncidentMeta(value: unknown, where: string): IncidentMeta {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new IncidentFormatError(`${where}: expected a JSON object`);
  }
  const v = value as Record<string, unknown>;
  if (typeof v.id !== 'string' || v.id === '') throw new IncidentFormatError(`${where}: "id" must be a non-empty string`);
  for (const k of ['system', 'description'] as const) {
    if (v[k] !== undefined && typeof v[k] !== 'string') throw new IncidentFormatError(`${where}: "${k}" must be a string`);
  }
  if (v.truth !== undefined && v.truth !== null) parseTruth(v.truth, where);
  return v as IncidentMeta;
}

function parseTruth(t: unknown, where: string): IncidentTruth {
  if (typeof t !== 'object' || t === null) throw new IncidentFormatError(`${where}: "truth" must be an object`);
  const o = t as Record<string, unknown>;
  if (typeof o.service !== 'string' || o.service === '') throw new IncidentFormatError(`${where}: "truth.service" must be a non-empty string`);
  if (o.instance !== undefined && typeof o.instance !== 'string') throw new IncidentFormatError(`${where}: "truth.instance" must be a string`);
  if (!FAULT_KINDS.includes(o.kind as FaultKind)) {
    throw new IncidentFormatError(`${where}: "truth.kind" must be one of ${FAULT_KINDS.join(', ')} (got ${JSON.stringify(o.kind)})`);
  }
  if (typeof o.start !== 'string' || Number.isNaN(Date.parse(o.start))) {
    throw new IncidentFormatError(`${where}: "truth.start" must be an ISO 8601 time (got ${JSON.stringify(o.start)})`);
  }
  return o as unknown as IncidentTruth;
}
