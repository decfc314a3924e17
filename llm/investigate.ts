// The investigation loop: evidence packet -> (tool calls)* -> structured answer -> grounding.
// Bounded in steps, tokens, wall time and tool output; every failure becomes an outcome with
// a reason instead of an exception, so the caller's deterministic diagnosis always stands.

import OpenAI from 'openai';
import type { ChatCompletionCreateParamsNonStreaming, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { Diagnosis } from '../model/diagnosis';
import type { TelemetryReader } from '../model/store';
import { llmConfigProblem, type LlmConfig } from './config';
import { groundAnswer, type GroundedAnswer } from './grounding';
import { buildContext, buildEvidencePacket, type EvidencePacket } from './packet';
import { Redactor } from './redact';
import { answerJsonSchema, parseAnswer, type LlmAnswer } from './schema';
import { callKey, runTool, toolDefinitions, type RecentChange, type ToolStatus } from './tools';

export type LlmFallbackReason = 'disabled' | 'invalid_output' | 'call_failed' | 'timeout' | 'budget_exhausted';

export interface LlmUsage {
  calls: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** True when a server returned no usage and tokens were estimated (characters / 4). */
  estimated: boolean;
  /** In the currency of costPerMTokIn/Out; undefined when no prices are configured. */
  cost?: number;
}

export interface ToolCallRecord {
  step: number;
  id: string; // citable result id, 'tool-N'
  callId: string; // the model's tool_call_id
  name: string;
  arguments: string; // as the model sent them (redacted placeholders included)
  status: ToolStatus;
  chars: number; // size of the result text sent back
  truncated: boolean;
  duplicate: boolean;
}

export interface LlmOutcome {
  status: 'ok' | 'failed';
  reason?: LlmFallbackReason;
  message?: string;
  model: string;
  /** The validated answer, placeholders mapped back to local values. */
  answer?: LlmAnswer;
  grounded?: GroundedAnswer;
  usage: LlmUsage;
  steps: number;
  toolCalls: ToolCallRecord[];
  /** Exactly what left the process (already redacted), for audit. */
  sent: { packet?: EvidencePacket; messages: ChatCompletionMessageParam[]; tools: string[] };
  redactions: Record<string, number>;
  durationMs: number;
}

export interface ExplainDeps {
  recentChanges?: () => RecentChange[];
  client?: OpenAI;
  now?: () => number;
}

export const SYSTEM_PROMPT = `You assist an SRE with a fault diagnosis of a microservice recommendation system.
A deterministic analyzer has already ranked root-cause candidates; you receive its evidence packet as JSON.
Your job: check the candidates against the evidence, use the tools to look closer when useful, and answer.
Rules:
- Only name services, instances and metrics listed under "known" in the packet or returned by tools. Never invent names.
- Every hypothesis must cite evidence ids: ids of evidence items in the packet (e.g. "ev-3") or ids of tool results ("tool-2").
- In the explanation cite evidence as [ev-3] or [tool-2]; cite nothing else in square brackets.
- A candidate can only move up the ranking if you cite its own evidence with a high score; say so when the evidence is weak.
- Prefer "not supported by the data" over a guess. Values like <email-N> or <ipv4-N> (N a number) are redacted placeholders; use them exactly as written.
- Tools are read-only. Do not call the same tool with the same arguments twice.
When done, reply with only a JSON object (no prose around it) of this shape:
{"hypotheses":[{"statement":str,"services":[str],"instances":[str],"metrics":[str],"evidenceIds":[str],"confidence":"low"|"medium"|"high"}],
 "ranking":[{"service":str,"reason":str,"evidenceIds":[str]}],
 "explanation":str,
 "nextChecks":[{"action":str,"why":str}]}
"ranking" lists candidate services best first (only services among the candidates).`;

const estimateTokens = (x: unknown) => Math.ceil(JSON.stringify(x).length / 4);

function classify(e: unknown, elapsedMs: number, timeoutMs: number): { reason: LlmFallbackReason; message: string } {
  // Some runtimes (and jest's VM realm, where the fetch AbortError is not an Error of this
  // realm) surface our own timeout as a plain connection error: tell them apart by the clock.
  if (e instanceof OpenAI.APIConnectionTimeoutError || (e instanceof OpenAI.APIConnectionError && elapsedMs >= timeoutMs * 0.95))
    return { reason: 'timeout', message: `model did not answer within ${timeoutMs} ms` };
  if (e instanceof OpenAI.APIConnectionTimeoutError) return { reason: 'timeout', message: `model did not answer in time (${e.message})` };
  if (e instanceof OpenAI.APIUserAbortError || (e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError')))
    return { reason: 'timeout', message: 'investigation exceeded its total time budget' };
  if (e instanceof OpenAI.APIError) return { reason: 'call_failed', message: `model endpoint answered ${e.status ?? 'no status'}: ${e.message}` };
  return { reason: 'call_failed', message: `model call failed: ${e instanceof Error ? e.message : String(e)}` };
}

export function createClient(config: LlmConfig): OpenAI {
  return new OpenAI({
    baseURL: config.baseURL,
    // Local servers (llama.cpp, vLLM, Ollama) accept any key; the SDK insists on one.
    apiKey: config.apiKey || 'no-key',
    timeout: config.timeoutMs,
    maxRetries: config.maxRetries,
  });
}

/**
 * Asks the configured model to explain (and possibly re-rank) a deterministic diagnosis.
 * Never throws: failures come back as { status: 'failed', reason }.
 */
export async function explainDiagnosis(diagnosis: Diagnosis, reader: TelemetryReader | undefined, config: LlmConfig, deps: ExplainDeps = {}): Promise<LlmOutcome> {
  const now = deps.now ?? Date.now;
  const started = now();
  const usage: LlmUsage = { calls: 0, promptTokens: 0, completionTokens: 0, totalTokens: 0, estimated: false };
  const toolCalls: ToolCallRecord[] = [];
  const messages: ChatCompletionMessageParam[] = [];
  const sent: LlmOutcome['sent'] = { messages, tools: [] };
  let steps = 0;
  let redactor: Redactor | undefined;
  const finish = (o: Partial<LlmOutcome> & Pick<LlmOutcome, 'status'>): LlmOutcome => {
    if (config.costPerMTokIn !== undefined || config.costPerMTokOut !== undefined)
      usage.cost = Math.round(((usage.promptTokens * (config.costPerMTokIn ?? 0) + usage.completionTokens * (config.costPerMTokOut ?? 0)) / 1e6) * 1e6) / 1e6;
    return { model: config.model, usage, steps, toolCalls, sent, redactions: { ...(redactor?.counts ?? {}) }, durationMs: now() - started, ...o };
  };

  const problem = llmConfigProblem(config);
  if (problem) return finish({ status: 'failed', reason: 'disabled', message: problem });

  try {
    redactor = new Redactor(config.redact);
    const ctx = buildContext(diagnosis, reader);
    const packet = buildEvidencePacket(ctx, config.topK ?? 5, redactor);
    sent.packet = packet;
    const tools = config.useTools === false ? [] : toolDefinitions({ reader: reader !== undefined, changes: deps.recentChanges !== undefined });
    sent.tools = tools.map((t) => t.function.name);
    const client = deps.client ?? createClient(config);
    const deadline = started + (config.totalTimeoutMs ?? 60_000);
    const seen = new Map<string, string>();
    const okToolIds = new Set<string>();
    let repairs = 1;
    let toolSeq = 0;

    messages.push({ role: 'system', content: SYSTEM_PROMPT });
    messages.push({
      role: 'user',
      content:
        `Evidence packet (JSON):\n${JSON.stringify(packet)}\n\n` +
        (tools.length ? `You may call these tools first: ${sent.tools.join(', ')}. At most ${config.maxSteps - 1} rounds of tool calls.` : 'No tools are available; answer from the packet.'),
    });

    for (let step = 1; step <= config.maxSteps; step++) {
      const last = step === config.maxSteps;
      const estimate = estimateTokens(messages);
      if (usage.totalTokens + estimate > config.maxTotalTokens)
        return finish({ status: 'failed', reason: 'budget_exhausted', message: `token budget ${config.maxTotalTokens} would be exceeded (used ${usage.totalTokens}, next request ~${estimate})` });
      const remaining = deadline - now();
      if (remaining <= 0) return finish({ status: 'failed', reason: 'timeout', message: 'investigation exceeded its total time budget' });

      const req: ChatCompletionCreateParamsNonStreaming = { model: config.model, messages: [...messages] };
      if (tools.length && !last) req.tools = tools;
      const rf = config.responseFormat ?? 'json_object';
      if (rf === 'json_object') req.response_format = { type: 'json_object' };
      else if (rf === 'json_schema') req.response_format = { type: 'json_schema', json_schema: { name: 'faultline_answer', strict: true, schema: answerJsonSchema() } };

      steps = step;
      let res;
      const callTimeout = Math.min(config.timeoutMs, remaining);
      const callStart = now();
      try {
        res = await client.chat.completions.create(req, { timeout: callTimeout, signal: AbortSignal.timeout(remaining) });
      } catch (e) {
        const c = classify(e, now() - callStart, callTimeout);
        return finish({ status: 'failed', reason: c.reason, message: c.message });
      }
      usage.calls++;
      if (res?.usage) {
        usage.promptTokens += res.usage.prompt_tokens ?? 0;
        usage.completionTokens += res.usage.completion_tokens ?? 0;
      } else {
        usage.estimated = true;
        usage.promptTokens += estimate;
        usage.completionTokens += estimateTokens(res?.choices?.[0]?.message ?? '');
      }
      usage.totalTokens = usage.promptTokens + usage.completionTokens;

      const choice = res?.choices?.[0];
      if (!choice || !choice.message) return finish({ status: 'failed', reason: 'invalid_output', message: 'the endpoint returned no choices' });
      if (usage.totalTokens > config.maxTotalTokens)
        return finish({ status: 'failed', reason: 'budget_exhausted', message: `token budget ${config.maxTotalTokens} exceeded (${usage.totalTokens} used)` });
      const msg = choice.message;

      const calls = (msg.tool_calls ?? []).filter((t) => t.type === 'function');
      if (calls.length) {
        if (last) return finish({ status: 'failed', reason: 'budget_exhausted', message: `step limit ${config.maxSteps} reached while the model was still calling tools` });
        messages.push({ role: 'assistant', content: msg.content ?? null, tool_calls: calls });
        for (const tc of calls) {
          const key = callKey(tc.function.name, tc.function.arguments);
          const id = `tool-${++toolSeq}`;
          const earlier = seen.get(key);
          let text: string;
          let status: ToolStatus;
          let truncated = false;
          if (earlier) {
            status = 'error';
            text = JSON.stringify({ id, tool: tc.function.name, status, query: tc.function.arguments, message: `duplicate call: identical to ${earlier}; reuse that result or change the arguments` });
          } else {
            const r = runTool({ ctx, redactor, recentChanges: deps.recentChanges, maxOutputChars: config.maxToolOutputChars }, id, tc.function.name, tc.function.arguments);
            seen.set(key, id);
            status = r.result.status;
            truncated = r.result.truncated === true;
            text = r.text;
            if (status === 'ok') okToolIds.add(id);
          }
          toolCalls.push({ step, id, callId: tc.id, name: tc.function.name, arguments: tc.function.arguments, status, chars: text.length, truncated, duplicate: Boolean(earlier) });
          messages.push({ role: 'tool', tool_call_id: tc.id, content: text });
        }
        continue;
      }

      const content = msg.content ?? '';
      const parsed = choice.finish_reason === 'length' ? { ok: false as const, problem: 'was cut off (finish_reason length)' } : parseAnswer(content);
      if (!parsed.ok) {
        if (repairs > 0 && !last) {
          repairs--;
          messages.push({ role: 'assistant', content });
          messages.push({ role: 'user', content: `Your answer ${parsed.problem}. Reply again with only the JSON object in the required shape.` });
          continue;
        }
        return finish({ status: 'failed', reason: 'invalid_output', message: `model answer ${parsed.problem}` });
      }
      const answer = redactor.restoreDeep(parsed.answer);
      const grounded = groundAnswer(answer, ctx, okToolIds, config.promoteMinEvidenceScore ?? 3);
      return finish({ status: 'ok', answer, grounded });
    }
    return finish({ status: 'failed', reason: 'budget_exhausted', message: `step limit ${config.maxSteps} reached without a final answer` });
  } catch (e) {
    // A bug of ours (or a reader that throws) must not take the diagnosis down either.
    return finish({ status: 'failed', reason: 'call_failed', message: `LLM step failed: ${e instanceof Error ? e.message : String(e)}` });
  }
}
