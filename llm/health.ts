// Running account of the LLM step for /readyz and self-metrics: a broken or slow endpoint
// degrades only this component (model/component.ts), never the diagnosis.

import type { ComponentHealth } from '../model/component';
import type { LlmRecord } from './apply';
import type { LlmConfig } from './config';

export class LlmAccount {
  runs = 0;
  applied = 0;
  fallbacks: Record<string, number> = {};
  totalTokens = 0;
  totalCost = 0;
  private lastFailure?: { atMs: number; message: string };
  private consecutiveFailures = 0;

  constructor(private readonly config: LlmConfig) {}

  /** Records the outcome carried by a diagnosis returned from maybeExplain; returns it as a label ('applied' or the fallback reason). */
  record(llm: unknown, nowMs = Date.now()): string | undefined {
    const r = llm as LlmRecord | undefined;
    if (!r || typeof r !== 'object' || !('status' in r)) return undefined;
    this.runs++;
    this.totalTokens += r.usage?.totalTokens ?? 0;
    this.totalCost += r.usage?.cost ?? 0;
    if (r.status === 'applied') {
      this.applied++;
      this.consecutiveFailures = 0;
      return 'applied';
    } else {
      const reason = r.reason ?? 'unknown';
      this.fallbacks[reason] = (this.fallbacks[reason] ?? 0) + 1;
      if (reason !== 'disabled') {
        this.consecutiveFailures++;
        this.lastFailure = { atMs: nowMs, message: r.note };
      }
      return reason;
    }
  }

  health(): ComponentHealth[] {
    if (!this.config.enabled) return [{ component: 'llm', status: 'disabled' }];
    if (this.consecutiveFailures >= 3)
      return [{ component: 'llm', status: 'degraded', message: `last ${this.consecutiveFailures} LLM steps failed: ${this.lastFailure?.message}`, sinceMs: this.lastFailure?.atMs }];
    return [{ component: 'llm', status: 'ok' }];
  }
}
