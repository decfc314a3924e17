// Who may call what.
//  - A token is configured (config.token or FAULTLINE_TOKEN): every mutating request
//    (POST/PUT/PATCH/DELETE) needs `Authorization: Bearer <token>`; with
//    requireTokenForReads, every route except the web page's static files needs it too.
//  - No token: mutating requests are accepted only while every address the server
//    listens on is loopback, and only with a Host header naming loopback (so a web page
//    elsewhere cannot reach them through DNS rebinding). Otherwise 403.
// Tokens are compared in constant time (SHA-256 of both, then timingSafeEqual).

import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from './errors';

export interface AuthConfig {
  token?: string;
  requireTokenForReads?: boolean;
}

/** Paths anyone may read even when reads need a token: the page's code, not data. */
const PUBLIC_READ_PATHS = new Set(['/', '/index.html', '/app.js', '/style.css', '/favicon.ico', '/healthz']);

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export function tokensEqual(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

export function isLoopbackAddress(addr: string): boolean {
  const a = addr.replace(/^\[|\]$/g, '');
  return a === '::1' || a === 'localhost' || /^127\./.test(a) || /^::ffff:127\./.test(a);
}

function hostIsLoopback(host: string | undefined): boolean {
  if (!host) return true; // HTTP/1.0 or in-process inject
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0];
  return isLoopbackAddress(name);
}

export function installAuth(app: FastifyInstance, config: AuthConfig): void {
  const token = config.token || process.env.FAULTLINE_TOKEN || undefined;

  function listensOnlyOnLoopback(): boolean {
    // Not listening (fastify.inject in tests): only this process can call, like loopback.
    return app.addresses().every((a) => isLoopbackAddress(typeof a === 'string' ? a : a.address));
  }

  function checkBearer(request: FastifyRequest): void {
    const header = request.headers.authorization;
    if (!header) throw new ApiError(401, 'unauthorized', 'this route needs Authorization: Bearer <token> (the configured FAULTLINE_TOKEN)');
    const m = /^Bearer\s+(.+)$/i.exec(header);
    if (!m || !tokensEqual(m[1].trim(), token!)) throw new ApiError(401, 'unauthorized', 'the bearer token is not valid');
  }

  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0];
    const mutating = MUTATING.has(request.method);
    try {
      if (token) {
        if (mutating || (config.requireTokenForReads && !PUBLIC_READ_PATHS.has(path))) checkBearer(request);
        return;
      }
      if (mutating) {
        if (!listensOnlyOnLoopback()) {
          throw new ApiError(403, 'forbidden', 'no token configured: recording and uploading are only allowed when faultline listens on loopback; set FAULTLINE_TOKEN');
        }
        if (!hostIsLoopback(request.headers.host)) {
          throw new ApiError(403, 'forbidden', `no token configured: requests must name a loopback host (got Host: ${request.headers.host})`);
        }
      }
    } catch (err) {
      if (err instanceof ApiError && err.statusCode === 401) reply.header('www-authenticate', 'Bearer realm="faultline"');
      throw err;
    }
  });
}
