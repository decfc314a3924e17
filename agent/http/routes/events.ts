// Server-sent events: anomalies and diagnoses as they happen. Each event is
//   event: anomaly | diagnosis
//   id: <record id>
//   data: <JSON>
// with a comment line (": heartbeat") every sseHeartbeatMs so proxies keep the stream
// open and clients notice a dead one. Listeners go away when the client disconnects or
// the server closes.

import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { ApiDeps } from '../server';

export function registerEventRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const heartbeatMs = deps.config.sseHeartbeatMs ?? 15_000;
  const open = new Set<ServerResponse>();

  app.addHook('preClose', async () => {
    for (const res of open) res.end();
    open.clear();
  });

  app.get(
    '/api/v1/events',
    {
      schema: {
        summary: 'Live stream (text/event-stream) of anomaly and diagnosis events',
        description:
          'Events: "anomaly" (data: AnomalyRecord), "diagnosis" (data: {source, diagnosis}). Comment lines ": heartbeat" keep the stream alive. Send the bearer token when reads need one.',
        tags: ['events'],
        produces: ['text/event-stream'],
        response: { 200: { type: 'string', description: 'an event stream' } },
      },
    },
    (req, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(`retry: 3000\n: connected ${new Date().toISOString()}\n\n`);
      open.add(res);

      const send = (event: string, id: string, data: unknown) => {
        if (!res.writableEnded) res.write(`event: ${event}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      const offAnomaly = deps.events.on('anomaly', (a) => send('anomaly', a.id, a));
      const offDiagnosis = deps.events.on('diagnosis', (d) => send('diagnosis', d.diagnosis.id, d));
      const heartbeat = setInterval(() => {
        if (!res.writableEnded) res.write(`: heartbeat ${Date.now()}\n\n`);
      }, heartbeatMs);
      heartbeat.unref();

      const cleanup = () => {
        clearInterval(heartbeat);
        offAnomaly();
        offDiagnosis();
        open.delete(res);
      };
      req.raw.on('close', cleanup);
      res.on('close', cleanup);
      res.on('error', cleanup);
    },
  );
}
