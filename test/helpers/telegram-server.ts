/**
 * A local stand-in for the Telegram Bot API's sendMessage, on loopback. It checks the
 * token in the path (/bot<token>/sendMessage), the JSON body and, for parse_mode HTML,
 * that the text parses the way Telegram requires (only its tags; every other <, > and &
 * escaped) and is at most 4,096 characters once parsed, and answers in the Bot API's shapes: {ok:true,result:{message_id,...}} or
 * {ok:false,error_code,description[,parameters:{retry_after}]}.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { RecordedRequest } from './receiver.js';

export interface SentMessage {
  chatId: string | number;
  /** The text as sent (with markup when parse_mode is HTML). */
  text: string;
  /** The text a user would see: tags removed, entities decoded. */
  plain: string;
  parseMode?: string;
  body: Record<string, unknown>;
}

export interface TelegramServer {
  /** Pass as telegramBaseUrl, e.g. http://127.0.0.1:41234. */
  baseUrl: string;
  /** The only token the server accepts. */
  token: string;
  /** Every request, accepted or not. */
  requests: RecordedRequest[];
  /** Messages accepted, in order. */
  messages: SentMessage[];
  /** Answer the next `count` (default 1) valid sendMessage calls with 429 and retry_after. */
  rateLimitNext(retryAfterSec: number, count?: number): void;
  close(): Promise<void>;
}

export interface TelegramServerOptions {
  /** Default: a random token in the Bot API format `<digits>:<35 chars>`. */
  token?: string;
  /** Also send a Retry-After header with a 429 (real Telegram relies on the JSON). Default: false. */
  retryAfterHeader?: boolean;
  /** If set, any other chat_id gets 400 "Bad Request: chat not found". Default: any chat is known. */
  knownChats?: Array<string | number>;
}

const TAGS = new Set([
  'b',
  'strong',
  'i',
  'em',
  'u',
  'ins',
  's',
  'strike',
  'del',
  'a',
  'code',
  'pre',
  'span',
  'tg-spoiler',
  'blockquote',
]);
const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"' };

/** Parse Telegram-flavoured HTML: the visible text, or Telegram's style of error. */
export function parseTelegramHtml(text: string): { ok: true; plain: string } | { ok: false; error: string } {
  const open: string[] = [];
  let plain = '';
  const tag = /<(\/?)([a-z-]+)((?:\s+[a-z-]+="[^"<>]*")*)\s*>/y;
  const entity = /&(lt|gt|amp|quot|#\d+|#x[0-9a-f]+);/iy;
  for (let i = 0; i < text.length;) {
    const ch = text[i]!;
    if (ch === '<') {
      tag.lastIndex = i;
      const m = tag.exec(text);
      if (!m || !TAGS.has(m[2]!))
        return { ok: false, error: `Bad Request: can't parse entities: Unsupported start tag at byte offset ${i}` };
      if (m[1]) {
        if (open.pop() !== m[2])
          return { ok: false, error: `Bad Request: can't parse entities: Unexpected end tag at byte offset ${i}` };
      } else open.push(m[2]!);
      i = tag.lastIndex;
    } else if (ch === '&') {
      entity.lastIndex = i;
      const m = entity.exec(text);
      if (!m)
        return { ok: false, error: `Bad Request: can't parse entities: Character entity expected at byte offset ${i}` };
      const name = m[1]!.toLowerCase();
      plain +=
        ENTITIES[name] ??
        String.fromCodePoint(name.startsWith('#x') ? parseInt(name.slice(2), 16) : Number(name.slice(1)));
      i = entity.lastIndex;
    } else if (ch === '>') {
      return { ok: false, error: `Bad Request: can't parse entities: Unexpected > at byte offset ${i}` };
    } else {
      plain += ch;
      i += 1;
    }
  }
  if (open.length)
    return {
      ok: false,
      error: `Bad Request: can't parse entities: Can't find end tag corresponding to start tag "${open.at(-1)}"`,
    };
  return { ok: true, plain };
}

function answer(res: ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(payload));
}
const fail = (res: ServerResponse, code: number, description: string) =>
  answer(res, code, { ok: false, error_code: code, description });

export async function startTelegramServer(options: TelegramServerOptions = {}): Promise<TelegramServer> {
  const token =
    options.token ??
    `${100000000 + randomBytes(3).readUIntBE(0, 3)}:AA${randomBytes(25).toString('base64url').slice(0, 33)}`;
  const requests: RecordedRequest[] = [];
  const messages: SentMessage[] = [];
  const limits: number[] = [];
  const sockets = new Set<Socket>();
  let messageId = 0;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      requests.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: raw,
        receivedAt: new Date(),
      });
      const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec((req.url ?? '').split('?')[0]!);
      if (!m || m[1] !== token) return fail(res, m ? 401 : 404, m ? 'Unauthorized' : 'Not Found');
      if (m[2] !== 'sendMessage') return fail(res, 404, 'Not Found: method not found');
      let body: Record<string, unknown>;
      try {
        const parsed: unknown = JSON.parse(raw);
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
        body = parsed as Record<string, unknown>;
      } catch {
        return fail(res, 400, 'Bad Request: invalid JSON body');
      }
      const chatId = body.chat_id;
      if (typeof chatId !== 'string' && typeof chatId !== 'number')
        return fail(res, 400, 'Bad Request: chat_id is empty');
      if (typeof body.text !== 'string' || body.text.trim() === '')
        return fail(res, 400, 'Bad Request: message text is empty');
      if (options.knownChats && !options.knownChats.map(String).includes(String(chatId)))
        return fail(res, 400, 'Bad Request: chat not found');
      const parseMode = typeof body.parse_mode === 'string' ? body.parse_mode : undefined;
      if (parseMode !== undefined && parseMode !== 'HTML')
        return fail(res, 400, `Bad Request: unsupported parse_mode ${parseMode} in this stand-in`);
      const parsedText = parseMode === 'HTML' ? parseTelegramHtml(body.text) : { ok: true as const, plain: body.text };
      if (!parsedText.ok) return fail(res, 400, parsedText.error);
      // Telegram's limit: 1-4096 characters after entities parsing.
      if (parsedText.plain.length > 4096) return fail(res, 400, 'Bad Request: message is too long');
      const wait = limits.shift();
      if (wait !== undefined) {
        const payload = {
          ok: false,
          error_code: 429,
          description: `Too Many Requests: retry after ${wait}`,
          parameters: { retry_after: wait },
        };
        return answer(res, 429, payload, options.retryAfterHeader ? { 'retry-after': String(wait) } : {});
      }
      messages.push({ chatId, text: body.text, plain: parsedText.plain, parseMode, body });
      messageId += 1;
      answer(res, 200, {
        ok: true,
        result: {
          message_id: messageId,
          date: Math.floor(Date.now() / 1000),
          chat: { id: chatId, type: 'private' },
          text: parsedText.plain,
        },
      });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    token,
    requests,
    messages,
    rateLimitNext: (retryAfterSec, count = 1) => void limits.push(...Array<number>(count).fill(retryAfterSec)),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        for (const s of sockets) s.destroy();
      }),
  };
}
