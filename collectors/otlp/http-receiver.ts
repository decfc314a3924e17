// OTLP/HTTP receiver (fastify): POST /v1/traces, /v1/metrics, /v1/logs, protobuf or JSON,
// optionally gzip/deflate. Answers follow the OTLP/HTTP spec and always come in the
// request's content type: protobuf senders get protobuf, JSON senders JSON (a JSON answer
// to a protobuf exporter makes it log "could not deserialize response").
//
// Order of defence, so bad or excessive input costs as little as possible:
//   1. onRequest: memory / in-flight limits by Content-Length -> 503 / 429 + Retry-After
//   2. fastify reads at most maxBodyBytes of (compressed) body -> 413
//   3. gunzip/inflate capped at maxBodyBytes of output (gzip bombs) -> 413
//   4. decode: malformed request -> 400 google.rpc.Status naming what is wrong

import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { OtlpEncoding } from './decode';
import type { IngestCore, IngestOutcome, OtlpSignal } from './ingest';
import { RpcCode, exportResponseJson, exportResponseProtobuf, statusJson, statusProtobuf } from './responses';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const inflateRaw = promisify(zlib.inflateRaw);

export interface OtlpHttpOptions {
  host: string;
  port: number;
  /** Largest body accepted, both as sent and after decompression. */
  maxBodyBytes: number;
}

const PROTOBUF_TYPES = new Set(['application/x-protobuf', 'application/protobuf']);

function encodingOf(contentType: string | undefined): OtlpEncoding | undefined {
  const base = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (PROTOBUF_TYPES.has(base)) return 'protobuf';
  if (base === 'application/json') return 'json';
  return undefined;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason: 'malformed' | 'too_large' | 'unsupported',
  ) {
    super(message);
  }
}

async function decompress(body: Buffer, contentEncoding: string | undefined, maxBytes: number): Promise<Buffer> {
  const enc = (contentEncoding ?? '').trim().toLowerCase();
  if (enc === '' || enc === 'identity') return body;
  const opts = { maxOutputLength: maxBytes };
  try {
    if (enc === 'gzip' || enc === 'x-gzip') return await gunzip(body, opts);
    if (enc === 'deflate') {
      // RFC 9110 deflate is zlib-wrapped; some clients send raw deflate. Accept both.
      try {
        return await inflate(body, opts);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw e;
        return await inflateRaw(body, opts);
      }
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      throw new HttpError(413, `decompressed body exceeds the limit of ${maxBytes} bytes`, 'too_large');
    }
    throw new HttpError(400, `invalid ${enc} body: ${err.message}`, 'malformed');
  }
  throw new HttpError(415, `unsupported Content-Encoding "${contentEncoding}" (supported: gzip, deflate, identity)`, 'unsupported');
}

/** Request state kept between fastify hooks. */
interface Admission {
  reserved: number;
}
const ADMISSION = Symbol('otlpAdmission');
type AdmittedRequest = FastifyRequest & { [ADMISSION]?: Admission };

export function buildOtlpHttpServer(core: IngestCore, opts: OtlpHttpOptions, log: (msg: string) => void = () => {}): FastifyInstance {
  const app = Fastify({ bodyLimit: opts.maxBodyBytes, logger: false });

  // We parse bodies ourselves (JSON included, for OTLP-specific errors); fastify only reads
  // them as bytes. The catch-all lets the route answer 415 in OTLP's own error format.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  function signalOf(req: FastifyRequest): string {
    const u = req.url;
    return u.startsWith('/v1/traces') ? 'traces' : u.startsWith('/v1/metrics') ? 'metrics' : u.startsWith('/v1/logs') ? 'logs' : 'unknown';
  }

  function sendStatus(reply: FastifyReply, encoding: OtlpEncoding | undefined, httpStatus: number, code: number, message: string, retryAfterSeconds?: number): FastifyReply {
    const req = reply.request;
    core.countRequest('otlp-http', signalOf(req), String(httpStatus));
    if (retryAfterSeconds !== undefined) reply.header('retry-after', String(Math.ceil(retryAfterSeconds)));
    reply.code(httpStatus);
    if (encoding === 'protobuf') return reply.type('application/x-protobuf').send(statusProtobuf(code, message, retryAfterSeconds));
    return reply.type('application/json').send(statusJson(code, message, retryAfterSeconds));
  }

  // 1. Load shedding before the body is read or decoded.
  app.addHook('onRequest', async (req, reply) => {
    if (req.method !== 'POST') return;
    const len = Number(req.headers['content-length'] ?? 0) || 0;
    if (len > opts.maxBodyBytes) {
      // Declared too large: say so now instead of reading it (and before any load verdict).
      core.countRefused('otlp-http', signalOf(req), 'too_large');
      reply.header('connection', 'close');
      return sendStatus(reply, encodingOf(req.headers['content-type']), 413, RpcCode.RESOURCE_EXHAUSTED, `request body exceeds the limit of ${opts.maxBodyBytes} bytes`);
    }
    const verdict = core.admit(len);
    if (!('ok' in verdict)) {
      core.countRefused('otlp-http', signalOf(req), 'overload');
      const status = verdict.reason === 'inflight' ? 429 : 503;
      const code = status === 429 ? RpcCode.RESOURCE_EXHAUSTED : RpcCode.UNAVAILABLE;
      // The connection may still be carrying the body we refused: close it after replying
      // rather than reading megabytes we are trying not to hold.
      reply.header('connection', 'close');
      return sendStatus(reply, encodingOf(req.headers['content-type']), status, code, verdict.message, verdict.retryAfterSeconds);
    }
    const admission: Admission = { reserved: len };
    (req as AdmittedRequest)[ADMISSION] = admission;
    // 'close' fires on every end of the response, also when the client goes away.
    reply.raw.once('close', () => core.release(admission.reserved));
  });

  // fastify's own refusals (body too large, broken stream) in OTLP's format.
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    const encoding = encodingOf(req.headers['content-type']);
    if (status === 413) {
      core.countRefused('otlp-http', signalOf(req), 'too_large');
      return sendStatus(reply, encoding, 413, RpcCode.RESOURCE_EXHAUSTED, `request body exceeds the limit of ${opts.maxBodyBytes} bytes`);
    }
    if (status >= 500) log(`otlp-http: ${req.method} ${req.url} failed: ${err.message}`);
    else core.countRefused('otlp-http', signalOf(req), 'malformed');
    return sendStatus(reply, encoding, status, status >= 500 ? RpcCode.INTERNAL : RpcCode.INVALID_ARGUMENT, err.message);
  });

  const handle = (signal: OtlpSignal) => async (req: FastifyRequest, reply: FastifyReply) => {
    const contentType = req.headers['content-type'];
    const encoding = encodingOf(contentType);
    if (!encoding) {
      core.countRefused('otlp-http', signal, 'unsupported');
      return sendStatus(reply, undefined, 415, RpcCode.INVALID_ARGUMENT, `unsupported Content-Type "${contentType ?? ''}"; use application/x-protobuf or application/json`);
    }
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const admission = (req as AdmittedRequest)[ADMISSION];
    let body: Buffer;
    try {
      const contentEncoding = req.headers['content-encoding'];
      body = await decompress(raw, typeof contentEncoding === 'string' ? contentEncoding : undefined, opts.maxBodyBytes);
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      core.countRefused('otlp-http', signal, e.reason);
      const code = e.status === 413 ? RpcCode.RESOURCE_EXHAUSTED : RpcCode.INVALID_ARGUMENT;
      return sendStatus(reply, encoding, e.status, code, e.message);
    }
    // Chunked bodies had no Content-Length, and decompression grows them: account what we hold.
    if (admission && body.length > admission.reserved) {
      core.grow(body.length - admission.reserved);
      admission.reserved = body.length;
    }
    const contentEncoding = req.headers['content-encoding'];
    const outcome = core.ingest(signal, 'otlp-http', encoding, body, {
      body: raw,
      contentType: contentType ?? '',
      contentEncoding: typeof contentEncoding === 'string' ? contentEncoding : undefined,
    });
    return answer(reply, signal, encoding, outcome);
  };

  function answer(reply: FastifyReply, signal: OtlpSignal, encoding: OtlpEncoding, outcome: IngestOutcome): FastifyReply {
    switch (outcome.kind) {
      case 'ok':
        core.countRequest('otlp-http', signal, '200');
        reply.code(200);
        if (encoding === 'protobuf') return reply.type('application/x-protobuf').send(exportResponseProtobuf(outcome.rejected, outcome.rejectionMessage));
        return reply.type('application/json').send(exportResponseJson(signal, outcome.rejected, outcome.rejectionMessage));
      case 'malformed':
        return sendStatus(reply, encoding, 400, RpcCode.INVALID_ARGUMENT, outcome.message);
      case 'refused':
        return sendStatus(reply, encoding, 400, RpcCode.INVALID_ARGUMENT, outcome.message);
      case 'shed': {
        const status = outcome.reason === 'inflight' ? 429 : 503;
        return sendStatus(reply, encoding, status, status === 429 ? RpcCode.RESOURCE_EXHAUSTED : RpcCode.UNAVAILABLE, outcome.message, outcome.retryAfterSeconds);
      }
    }
  }

  app.post('/v1/traces', handle('traces'));
  app.post('/v1/metrics', handle('metrics'));
  app.post('/v1/logs', handle('logs'));
  return app;
}
