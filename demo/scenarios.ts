// The fault scenarios the end-to-end test and the fixture recorder run: one per fault
// kind, each on a different service, at intensities a person would call an incident.
import type { FaultRequest } from './lib/faults';

export interface Scenario {
  /** Short id: '<service>-<kind>'. */
  id: string;
  /** 'service' or 'service:instance' as DemoSystem.find takes it. */
  target: string;
  fault: FaultRequest;
}

export const SCENARIOS: Scenario[] = [
  { id: 'model-server-cpu', target: 'model-server:model-server-1', fault: { kind: 'cpu', intensity: 0.8 } },
  { id: 'filter-error', target: 'filter', fault: { kind: 'error', intensity: 0.3 } },
  { id: 'embedding-index-delay', target: 'embedding-index', fault: { kind: 'delay', intensity: 120 } },
  { id: 'feature-store-loss', target: 'feature-store:feature-store-2', fault: { kind: 'loss', intensity: 0.25 } },
  // A client timeout shorter than model-server's normal latency: ranker's calls time out, model-server is fine.
  { id: 'ranker-config', target: 'ranker', fault: { kind: 'config', target: 'clientTimeoutMs', intensity: 15 } },
  { id: 'candidates-memory', target: 'candidates', fault: { kind: 'memory', intensity: 8 } },
];
