// Recorded-response evaluation cases (HolmesGPT-style): fixtures/llm/<case>/case.json says
// how to rebuild the telemetry and holds the deterministic diagnosis; one file per recorded
// model response, response-<key>.json, where key hashes the request (all non-system messages
// and the offered tool names, so rewording the system prompt keeps the recordings, but any
// change of the evidence packet or of a tool result asks for a new recording).

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { TelemetryStore } from '../../agent/store/telemetry-store';
import type { Diagnosis } from '../../model/diagnosis';
import { defaultLlmConfig, type LlmConfig, type RecentChange } from '../../llm';
import { makeRecsysTelemetry, type RecsysOptions } from './recsys-telemetry';

export const FIXTURES_DIR = path.resolve(__dirname, '../../fixtures/llm');

export interface LlmCase {
  id: string;
  description: string;
  truth: { service: string; kind: string };
  telemetry: Omit<RecsysOptions, 'extraAttributes' | 'statusMessage'>;
  diagnosis: Diagnosis;
  recentChanges?: RecentChange[];
  config?: Partial<LlmConfig>;
  /** What the grounded result must show (checked by the eval). */
  expect?: { status?: 'applied' | 'fallback'; droppedHypotheses?: number; refused?: string[]; changes?: number };
}

export interface Recording {
  key: string;
  step: number;
  recordedFrom: string; // 'authored' (written by hand, no model ran) or 'live:<model>'
  lastMessage: { role: string; excerpt: string };
  response: unknown; // chat.completion body as served
}

export function listCases(): string[] {
  return fs
    .readdirSync(FIXTURES_DIR)
    .filter((d) => fs.existsSync(path.join(FIXTURES_DIR, d, 'case.json')))
    .sort();
}

export function loadCase(id: string): LlmCase {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES_DIR, id, 'case.json'), 'utf8'));
}

export function caseStore(c: LlmCase): TelemetryStore {
  const tel = makeRecsysTelemetry(c.telemetry);
  const store = new TelemetryStore({ windowMs: 60 * 60_000 });
  store.consumeSpans(tel.spans);
  store.consumeMetrics(tel.metrics);
  return store;
}

export function caseConfig(c: LlmCase, baseURL: string): LlmConfig {
  return { ...defaultLlmConfig(), enabled: true, baseURL, apiKey: 'recorded', model: 'recorded', maxRetries: 0, timeoutMs: 10_000, ...(c.config ?? {}) };
}

/* eslint-disable @typescript-eslint/no-explicit-any */
export function requestKey(body: any): string {
  const messages = (body.messages ?? [])
    .filter((m: any) => m.role !== 'system')
    .map((m: any) => ({
      role: m.role,
      content: m.content ?? null,
      tool_calls: m.tool_calls?.map((t: any) => ({ id: t.id, name: t.function?.name, arguments: t.function?.arguments })) ?? null,
      tool_call_id: m.tool_call_id ?? null,
    }));
  const tools = (body.tools ?? []).map((t: any) => t.function?.name);
  return createHash('sha256').update(JSON.stringify({ messages, tools })).digest('hex').slice(0, 16);
}

export function stepOf(body: any): number {
  return (body.messages ?? []).filter((m: any) => m.role === 'assistant').length + 1;
}

export function lastMessage(body: any): Recording['lastMessage'] {
  const m = body.messages[body.messages.length - 1];
  return { role: m.role, excerpt: String(m.content ?? '').slice(0, 200) };
}

export function recordingPath(caseId: string, key: string): string {
  return path.join(FIXTURES_DIR, caseId, `response-${key}.json`);
}
