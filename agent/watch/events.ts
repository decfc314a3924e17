// A small typed event bus: the watcher and the API publish anomalies and diagnoses here,
// the SSE route and the web view subscribe. In-process only; persistence is agent/state.

import { EventEmitter } from 'node:events';
import type { Diagnosis } from '../../model/diagnosis';
import type { AnomalyRecord, DiagnosisSource } from '../state/types';

export interface FaultlineEvents {
  anomaly: AnomalyRecord;
  diagnosis: { diagnosis: Diagnosis; source: DiagnosisSource };
}

export type FaultlineEventName = keyof FaultlineEvents;

export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Every open SSE stream is one listener; the default cap of 10 would warn early.
    this.emitter.setMaxListeners(0);
  }

  on<K extends FaultlineEventName>(name: K, fn: (payload: FaultlineEvents[K]) => void): () => void {
    this.emitter.on(name, fn);
    return () => this.emitter.off(name, fn);
  }

  emit<K extends FaultlineEventName>(name: K, payload: FaultlineEvents[K]): void {
    // A subscriber's bug must not break the publisher (the watcher loop, an API request).
    for (const fn of this.emitter.listeners(name)) {
      try {
        (fn as (p: FaultlineEvents[K]) => void)(payload);
      } catch {
        // ignored on purpose
      }
    }
  }

  listenerCount(name: FaultlineEventName): number {
    return this.emitter.listenerCount(name);
  }
}
