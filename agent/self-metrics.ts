// faultline's own metrics, served on /metrics of the API server. One registry per process
// (not prom-client's global one) so tests can run several sidecars in one Jest worker.

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export class SelfMetrics {
  readonly registry = new Registry();

  /** Items (spans, metric points) accepted, by signal and receiver ('otlp-http', 'otlp-grpc', 'prometheus', 'host'). */
  readonly received = new Counter({ name: 'faultline_received_items_total', help: 'Telemetry items accepted', labelNames: ['signal', 'receiver'], registers: [this.registry] });
  /** Items refused, by reason ('malformed', 'too_large', 'overload', 'unsupported'). */
  readonly rejected = new Counter({ name: 'faultline_rejected_items_total', help: 'Telemetry items or requests refused', labelNames: ['signal', 'receiver', 'reason'], registers: [this.registry] });
  /** Items lost after acceptance (e.g. forward queue full). */
  readonly dropped = new Counter({ name: 'faultline_dropped_items_total', help: 'Accepted items dropped later', labelNames: ['signal', 'component', 'reason'], registers: [this.registry] });
  readonly requests = new Counter({ name: 'faultline_receiver_requests_total', help: 'Receiver requests by outcome', labelNames: ['receiver', 'signal', 'code'], registers: [this.registry] });
  readonly storeItems = new Gauge({ name: 'faultline_store_items', help: 'Items held in the telemetry store', labelNames: ['signal'], registers: [this.registry] });
  readonly storeBytes = new Gauge({ name: 'faultline_store_estimated_bytes', help: 'Estimated bytes held by the telemetry store', registers: [this.registry] });
  readonly storeEvicted = new Gauge({ name: 'faultline_store_evicted_items', help: 'Items evicted from the store since start (window or budget)', labelNames: ['signal'], registers: [this.registry] });
  /** LLM steps by outcome ('applied' or the fallback reason) and the tokens they used. */
  readonly llmSteps = new Counter({ name: 'faultline_llm_steps_total', help: 'LLM explanation steps by outcome (applied or fallback reason)', labelNames: ['outcome'], registers: [this.registry] });
  readonly llmTokens = new Counter({ name: 'faultline_llm_tokens_total', help: 'Tokens used by LLM steps', registers: [this.registry] });
  readonly componentUp = new Gauge({ name: 'faultline_component_up', help: '1 when a component is healthy, 0 when degraded or failed', labelNames: ['component'], registers: [this.registry] });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'faultline_' });
  }
}
