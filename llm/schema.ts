// The structured answer the model must return, validated with zod. Every field is
// required (arrays may be empty) so the same schema works as strict json_schema output.

import { z } from 'zod';

export const hypothesisSchema = z.object({
  statement: z.string().min(1).max(1000),
  services: z.array(z.string()).max(10),
  instances: z.array(z.string()).max(10),
  metrics: z.array(z.string()).max(10),
  evidenceIds: z.array(z.string()).max(20),
  confidence: z.enum(['low', 'medium', 'high']),
});

export const rankingEntrySchema = z.object({
  service: z.string().min(1),
  reason: z.string().max(1000),
  evidenceIds: z.array(z.string()).max(20),
});

export const nextCheckSchema = z.object({
  action: z.string().min(1).max(500),
  why: z.string().max(1000),
});

export const llmAnswerSchema = z.object({
  hypotheses: z.array(hypothesisSchema).max(8),
  ranking: z.array(rankingEntrySchema).max(20),
  explanation: z.string().min(1).max(6000),
  nextChecks: z.array(nextCheckSchema).max(10),
});

export type Hypothesis = z.infer<typeof hypothesisSchema>;
export type RankingEntry = z.infer<typeof rankingEntrySchema>;
export type NextCheck = z.infer<typeof nextCheckSchema>;
export type LlmAnswer = z.infer<typeof llmAnswerSchema>;

function closeObjects(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(closeObjects);
  if (!node || typeof node !== 'object') return;
  const o = node as Record<string, unknown>;
  if (o.type === 'object') o.additionalProperties = false;
  Object.values(o).forEach(closeObjects);
}

/** JSON schema for response_format json_schema (strict: closed objects, all fields required). */
export function answerJsonSchema(): Record<string, unknown> {
  const s = z.toJSONSchema(llmAnswerSchema, { target: 'draft-7' }) as Record<string, unknown>;
  delete s.$schema;
  closeObjects(s);
  return s;
}

/** Parses the model's final message: JSON, optionally inside a ``` fence. */
export function parseAnswer(content: string): { ok: true; answer: LlmAnswer } | { ok: false; problem: string } {
  let text = content.trim();
  const fence = /^```(?:json)?\s*([\s\S]*?)\s*```$/i.exec(text);
  if (fence) text = fence[1];
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, problem: `not valid JSON (${(e as Error).message})` };
  }
  const r = llmAnswerSchema.safeParse(json);
  if (!r.success) {
    return { ok: false, problem: 'does not match the schema: ' + r.error.issues.slice(0, 8).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
  }
  return { ok: true, answer: r.data };
}
