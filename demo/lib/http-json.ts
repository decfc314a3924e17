// JSON over HTTP for the orchestrator, the tests and the fixture recorder (Node 20's fetch).

export class HttpError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(message);
  }
}

export async function requestJson<T = any>(method: string, url: string, body?: unknown, timeoutMs = 10_000): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? undefined : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  if (!res.ok) {
    const msg = (json as { error?: string; message?: string })?.error ?? (json as { message?: string })?.message ?? text;
    throw new HttpError(`${method} ${url} -> ${res.status}: ${typeof msg === 'string' ? msg : JSON.stringify(msg)}`, res.status, json);
  }
  return json as T;
}
