// The web view: a static page (web/index.html, app.js, style.css at the project root,
// plain HTML+JS+SVG, no build step) that reads the API. Files are read once at start.

import type { FastifyInstance } from 'fastify';
import fs from 'node:fs';
import path from 'node:path';

const ASSETS: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/app.js': 'app.js',
  '/style.css': 'style.css',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** The web/ folder: found by walking up from here, so it works from sources and from dist/. */
export function findWebDir(from = __dirname): string | undefined {
  let dir = from;
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'web', 'index.html');
    if (fs.existsSync(candidate)) return path.dirname(candidate);
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

export function registerWebRoutes(app: FastifyInstance): void {
  const webDir = findWebDir();
  const cache = new Map<string, Buffer>();
  if (webDir) for (const file of new Set(Object.values(ASSETS))) cache.set(file, fs.readFileSync(path.join(webDir, file)));

  for (const [route, file] of Object.entries(ASSETS)) {
    app.get(route, { schema: { hide: true, response: { 200: { type: 'string' }, 404: { $ref: 'Error#' } } } }, async (_req, reply) => {
      const body = cache.get(file);
      if (!body) return reply.code(404).send({ error: { code: 'not_found', message: 'the web view files (web/) are not installed' } });
      reply
        .header('content-type', TYPES[path.extname(file)])
        .header('cache-control', 'no-cache')
        // The page loads nothing from elsewhere; say so, so an injected script could not either.
        .header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'")
        .header('x-content-type-options', 'nosniff');
      return reply.send(body);
    });
  }
}
