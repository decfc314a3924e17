// Every error leaves the API as JSON {error: {code, message}} with its HTTP status; a 500
// says only that something failed (the stack goes to the log, never to the client).

import type { FastifyError, FastifyInstance } from 'fastify';
import { StateInputError } from '../state/types';

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function sendError(statusCode: number, code: string, message: string): ApiError {
  return new ApiError(statusCode, code, message);
}

// Fastify's own error codes, as short stable names clients can switch on.
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_body',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_body',
  FST_ERR_VALIDATION: 'validation',
};

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | ApiError | StateInputError | SyntaxError, request, reply) => {
    if (err instanceof ApiError) return reply.code(err.statusCode).send({ error: { code: err.code, message: err.message } });
    if (err instanceof StateInputError) {
      const status = err.code === 'conflict' ? 409 : 400;
      return reply.code(status).send({ error: { code: err.code, message: err.message } });
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      return reply.code(400).send({ error: { code: 'validation', message: fe.message } });
    }
    const status = typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 600 ? fe.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err }, 'request failed');
      return reply.code(status).send({ error: { code: 'internal', message: 'internal error; see the faultline log' } });
    }
    const code = (fe.code && FASTIFY_CODES[fe.code]) || (status === 404 ? 'not_found' : 'bad_request');
    return reply.code(status).send({ error: { code, message: fe.message } });
  });

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` } });
  });
}
