// Lifecycle and health shared by every long-running part (receivers, scrapers, host
// sampler, forwarder, LLM client): health is what /readyz and the self-metrics report,
// so a broken optional feature degrades only itself and stays visible.

export type HealthStatus = 'ok' | 'degraded' | 'failed' | 'disabled';

export interface ComponentHealth {
  component: string; // 'otlp-http', 'prometheus:recsys-ranker', 'host', 'forwarder', ...
  status: HealthStatus;
  message?: string; // why it is not ok
  sinceMs?: number;
}

export interface Component {
  start(): Promise<void>;
  stop(): Promise<void>;
  health(): ComponentHealth[];
}
