// A small OpenAI-protocol server for tests (no hosted model can run here). It speaks the
// wire format the real `openai` client expects (notes/dependencies.md section 7), checks
// what a real endpoint would reject (auth, model, messages, tool_call_id pairing, the
// "json" word for json_object mode), records every request body, and plays scripted replies:
// completions with content or parallel tool calls, API errors with retry-after, malformed
// bodies, raw recorded completions, and a hung reply for the SDK timeout path.

import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRequest {
  index: number;
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  bodyText: string;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export type Reply =
  | {
      type: 'message';
      content?: string | null;
      toolCalls?: Array<{ id?: string; name: string; arguments: string | Record<string, unknown> }>;
      finishReason?: 'stop' | 'length' | 'tool_calls';
      usage?: { prompt_tokens: number; completion_tokens: number } | null;
    }
  | { type: 'error'; status: number; message?: string; errType?: string; code?: string | null; headers?: Record<string, string> }
  | { type: 'hang' }
  | { type: 'raw'; status: number; body: string; contentType?: string; headers?: Record<string, string> }
  | { type: 'completion'; body: unknown }; // a recorded chat.completion served verbatim

export type Responder = (req: FakeRequest) => Reply | Promise<Reply>;

export interface FakeServer {
  baseURL: string; // http://127.0.0.1:<port>/v1
  requests: FakeRequest[];
  /** Protocol violations by the client (each also answered with a 400). */
  protocolErrors: string[];
  close(): Promise<void>;
}

/** Builds a non-streaming chat.completion body the way OpenAI shapes it. */
export function completionBody(reply: Extract<Reply, { type: 'message' }>, model: string, index: number, promptChars: number) {
  const toolCalls = reply.toolCalls?.map((t, i) => ({
    id: t.id ?? `call_${index}_${i}`,
    type: 'function' as const,
    function: { name: t.name, arguments: typeof t.arguments === 'string' ? t.arguments : JSON.stringify(t.arguments) },
  }));
  const content = toolCalls?.length ? (reply.content ?? null) : (reply.content ?? '');
  const completionChars = (content?.length ?? 0) + JSON.stringify(toolCalls ?? []).length;
  const usage =
    reply.usage === null
      ? undefined
      : (reply.usage ?? { prompt_tokens: Math.ceil(promptChars / 4), completion_tokens: Math.ceil(completionChars / 4) });
  return {
    id: `chatcmpl-fake-${index}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, ...(toolCalls?.length ? { tool_calls: toolCalls } : {}), refusal: null },
        finish_reason: reply.finishReason ?? (toolCalls?.length ? 'tool_calls' : 'stop'),
        logprobs: null,
      },
    ],
    ...(usage ? { usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } } : {}),
  };
}

function errorJson(status: number, message: string, type = 'invalid_request_error', code: string | null = null, param: string | null = null) {
  return JSON.stringify({ error: { message, type, param, code } });
}

/** What a real endpoint would refuse in this request, or undefined. */
function protocolProblem(body: any): string | undefined {
  if (!body || typeof body !== 'object') return 'body must be a JSON object';
  if (typeof body.model !== 'string' || body.model === '') return "'model' is required";
  if (!Array.isArray(body.messages) || body.messages.length === 0) return "'messages' must be a non-empty array";
  const msgs: any[] = body.messages;
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i];
    if (!['system', 'user', 'assistant', 'tool', 'developer'].includes(m?.role)) return `messages[${i}].role is invalid`;
    if (m.role === 'tool') {
      return `messages[${i}]: a 'tool' message must follow an assistant message with 'tool_calls'`;
    }
    if (m.role === 'assistant' && Array.isArray(m.tool_calls) && m.tool_calls.length) {
      const expected = new Set<string>(m.tool_calls.map((t: any) => t.id));
      if (expected.size !== m.tool_calls.length) return `messages[${i}].tool_calls has duplicate ids`;
      for (const t of m.tool_calls) {
        if (t.type !== 'function' || typeof t.function?.name !== 'string' || typeof t.function?.arguments !== 'string')
          return `messages[${i}].tool_calls entries need type 'function' and string 'function.arguments'`;
      }
      let j = i + 1;
      while (j < msgs.length && msgs[j].role === 'tool') {
        const id = msgs[j].tool_call_id;
        if (!expected.has(id)) return `messages[${j}].tool_call_id ${JSON.stringify(id)} does not answer a pending tool call`;
        if (typeof msgs[j].content !== 'string') return `messages[${j}].content must be a string`;
        expected.delete(id);
        j++;
      }
      if (expected.size) return `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. Missing: ${[...expected].join(', ')}`;
      i = j - 1;
    }
  }
  if (body.response_format?.type === 'json_object' && !/json/i.test(JSON.stringify(msgs)))
    return "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'";
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) return "'tools' must be an array";
    for (const t of body.tools) if (t.type !== 'function' || typeof t.function?.name !== 'string') return 'each tool needs type function and a name';
  }
  return undefined;
}

export async function startFakeOpenAI(responder: Responder | Reply[]): Promise<FakeServer> {
  const requests: FakeRequest[] = [];
  const protocolErrors: string[] = [];
  const script = Array.isArray(responder) ? [...responder] : undefined;
  const respond: Responder = script
    ? () => script.shift() ?? { type: 'error', status: 500, message: 'fake server: script exhausted (the client made more calls than the test expected)' }
    : responder as Responder;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const bodyText = Buffer.concat(chunks).toString('utf8');
      let body: any;
      try {
        body = bodyText ? JSON.parse(bodyText) : undefined;
      } catch {
        body = undefined;
      }
      const fr: FakeRequest = { index: requests.length, method: req.method ?? '', path: req.url ?? '', headers: req.headers, bodyText, body };
      requests.push(fr);
      const send = (status: number, text: string, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(text);
      };
      if (req.method !== 'POST' || !(req.url ?? '').startsWith('/v1/chat/completions')) return send(404, errorJson(404, `Unknown request URL: ${req.method} ${req.url}`, 'invalid_request_error', 'unknown_url'));
      if (!/^Bearer \S+/.test(String(req.headers.authorization ?? ''))) return send(401, errorJson(401, 'You did not provide an API key.', 'invalid_request_error', 'invalid_api_key'));
      if (body === undefined) return send(400, errorJson(400, 'We could not parse the JSON body of your request.'));
      const problem = protocolProblem(body);
      if (problem) {
        protocolErrors.push(problem);
        return send(400, errorJson(400, problem, 'invalid_request_error', null, 'messages'));
      }
      let reply: Reply;
      try {
        reply = await respond(fr);
      } catch (e) {
        reply = { type: 'error', status: 500, message: `fake server responder failed: ${(e as Error).message}`, errType: 'server_error' };
      }
      switch (reply.type) {
        case 'hang':
          return; // never answer; close() destroys the socket
        case 'error':
          return send(reply.status, errorJson(reply.status, reply.message ?? `error ${reply.status}`, reply.errType ?? (reply.status >= 500 ? 'server_error' : 'invalid_request_error'), reply.code ?? null), reply.headers);
        case 'raw':
          res.writeHead(reply.status, { 'content-type': reply.contentType ?? 'application/json', ...(reply.headers ?? {}) });
          return res.end(reply.body);
        case 'completion':
          return send(200, JSON.stringify(reply.body));
        case 'message':
          return send(200, JSON.stringify(completionBody(reply, body.model, fr.index, bodyText.length)));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    protocolErrors,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
