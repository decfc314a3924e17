// The demo services by name. Each runs as its own process (see main.ts).
import type { ServiceDefinition } from '../lib/service';
import { apiGateway } from './api-gateway';
import { candidates } from './candidates';
import { embeddingIndex } from './embedding-index';
import { featureStore } from './feature-store';
import { filter } from './filter';
import { modelServer } from './model-server';
import { ranker } from './ranker';
import { recommend } from './recommend';

export const SERVICES: Record<string, ServiceDefinition> = Object.fromEntries(
  [apiGateway, recommend, candidates, embeddingIndex, featureStore, ranker, modelServer, filter].map((d) => [d.name, d]),
);
