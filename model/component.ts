// Lifecycle and health shared by every long-running part (receivers, scrapers, host
// sampler, forwarder, LLM client): health is what /readyz and the self-metrics report,
// so a broken optional feature degrades only itself and stays visible.

export type HealthStatus = 'ok' | 'degraded' | 'failed' | 'disabled';

export interface ComponentHealth {
  component: string; // 'otlp-http', 'prometheus:recsys-ranker', 'host', 'forwarder', ...
  status: HealthStatus;
  message?: string; // why it is not ok
  sinceMs?: number;
  /** false for an optional feature: its failure shows in /readyz but does not make the sidecar unready. Default true. */
  required?: boolean;
}

export interface Component {
  start(): Promise<void>;
  stop(): Promise<void>;
  health(): ComponentHealth[];
}
