// Public surface of the optional LLM step (issue 6). The agent needs only maybeExplain and
// llmConfigFromEnv; the rest is exported for tests, replay evaluation and the API.

export { defaultLlmConfig, llmConfigFromEnv, llmConfigFromAgent, llmConfigProblem, DEFAULT_REDACTION_PATTERNS, DEFAULT_REDACTED_KEYS } from './config';
export type { LlmConfig, RedactionPattern, AgentLlmSection } from './config';
export { explainDiagnosis, createClient, SYSTEM_PROMPT } from './investigate';
export type { LlmOutcome, LlmUsage, LlmFallbackReason, ToolCallRecord, ExplainDeps } from './investigate';
export { applyLlmOutcome, maybeExplain, llmSummary } from './apply';
export type { LlmRecord } from './apply';
export { Redactor } from './redact';
export { groundAnswer, citedIds } from './grounding';
export type { GroundedAnswer, RankChange, RefusedPromotion } from './grounding';
export { llmAnswerSchema, parseAnswer, answerJsonSchema } from './schema';
export type { LlmAnswer, Hypothesis, NextCheck } from './schema';
export type { RecentChange, ToolResult } from './tools';
export { snapshotReader } from './snapshot-reader';
export { LlmAccount } from './health';
