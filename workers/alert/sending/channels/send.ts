/**
 * Sending one message to one channel: a signed JSON webhook, a Slack incoming webhook
 * (the credential is the webhook URL) or Telegram's sendMessage (the credential is the
 * bot token). Results say whether a retry can help; no result or error ever contains
 * the credential.
 */
import { fitText, SLACK_TEXT_MAX, TELEGRAM_TEXT_MAX } from './fit.js';
import { createGuardedPost, TargetRefusedError, type GuardedPost, type HttpAnswer } from './guarded-post.js';
import type { AlertMessage, ChannelTarget, SendResult } from './types.js';
import { webhookBody } from './webhook-body.js';
import { signWebhook } from './webhook-signature.js';
import { literalTargetProblem } from '../../../../lib/alerts/target-address.js';

export interface SendOptions {
  /**
   * Tests only: sends through this instead. The target's literal address is still
   * checked, but not what a host name resolves to (guarded-post.ts does that).
   */
  fetch?: typeof fetch;
  /**
   * The process's guarded POST and its keep-alive pools (the alert worker's
   * dependencies hold one). Without it a webhook or Slack send makes a one-off one,
   * closed after the send: a connection of its own, kept by nobody.
   */
  http?: GuardedPost;
  /**
   * ALERT_TARGETS_ALLOW_PRIVATE: whether a webhook or Slack URL may point at a
   * loopback, private, link-local or other non-public address. Default: false.
   */
  allowPrivateTargets?: boolean;
  /** Time limit of the HTTP request. Default: 10000 ms. */
  timeoutMs?: number;
  now?: () => Date;
  /** Default: https://api.telegram.org */
  telegramBaseUrl?: string;
  /** Largest webhook body in bytes; a larger message is fitted (webhook-body.ts). Default: 262144. */
  webhookMaxBodyBytes?: number;
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** For an HTML attribute value in double quotes (Telegram supports &quot;). */
const escapeAttr = (text: string) => escapeHtml(text).replace(/"/g, '&quot;');

/** Slack mrkdwn control characters, so alert text cannot mention <!channel> or forge links. */
export const escapeSlack = escapeHtml;

/** Every form in which the credential could show up in a message: whole, URL-encoded, and a Slack URL's path. */
function secretForms(credential: string): string[] {
  const forms = [credential, encodeURIComponent(credential)];
  // Most credentials are not URLs (tokens, signing secrets): check before parsing
  // rather than paying for a thrown error.
  if (URL.canParse(credential)) {
    const u = new URL(credential);
    forms.push(u.pathname + u.search, u.pathname);
  }
  return [...new Set(forms)].filter((f) => f.length >= 4 && f !== '/');
}

/**
 * The longest wait a receiver's 429 can impose. It pauses the whole channel, security
 * alerts included, so a receiver asking for days (or a number Redis cannot store) is
 * held to an hour and asked again then.
 */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/** Retry-After as seconds or an HTTP date, in ms, at most MAX_RETRY_AFTER_MS. */
export function retryAfterMs(value: string | null, now: Date): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Math.min(MAX_RETRY_AFTER_MS, Number(value.trim()) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.min(MAX_RETRY_AFTER_MS, Math.max(0, at - now.getTime()));
}

function request(
  target: ChannelTarget,
  credential: string,
  m: AlertMessage,
  now: Date,
  options: SendOptions,
): { url: string; body: string; headers: Record<string, string> } {
  if (target.type === 'webhook') {
    // Signed after fitting: the signature covers the body byte for byte as sent.
    const body = webhookBody(m, options.webhookMaxBodyBytes);
    return {
      url: target.url ?? '',
      body,
      headers: {
        'content-type': 'application/json',
        ...signWebhook(credential, body, Math.floor(now.getTime() / 1000)),
      },
    };
  }
  if (target.type === 'slack') {
    const head = `*[${escapeSlack(m.severity.toUpperCase())}] ${escapeSlack(m.title)}*\n`;
    const link = m.runbookUrl ? `\n<${m.runbookUrl.replace(/[<>|]/g, encodeURIComponent)}|Runbook>` : '';
    // Slack counts the text as sent (escaped), and would cut the runbook link off the end.
    const body = escapeSlack(fitText(m.text, SLACK_TEXT_MAX - head.length - link.length, (t) => escapeSlack(t).length));
    return {
      url: credential,
      body: JSON.stringify({ text: `${head}${body}${link}` }),
      headers: { 'content-type': 'application/json' },
    };
  }
  // Telegram counts the visible text (after entities parsing): the header, the text and "Runbook".
  const title = `[${m.severity.toUpperCase()}] ${m.title}`;
  const visible = TELEGRAM_TEXT_MAX - title.length - 1 - (m.runbookUrl ? '\nRunbook'.length : 0);
  const telegramBase = options.telegramBaseUrl ?? 'https://api.telegram.org';
  const html = `<b>${escapeHtml(title)}</b>\n${escapeHtml(fitText(m.text, visible))}${m.runbookUrl ? `\n<a href="${escapeAttr(m.runbookUrl)}">Runbook</a>` : ''}`;
  return {
    url: `${telegramBase.replace(/\/$/, '')}/bot${credential}/sendMessage`,
    body: JSON.stringify({ chat_id: target.chatId, text: html, parse_mode: 'HTML', disable_web_page_preview: true }),
    headers: { 'content-type': 'application/json' },
  };
}

function configurationProblem(
  target: ChannelTarget,
  credential: string,
  url: string,
): { reason: 'credential' | 'misconfigured'; text: string } | undefined {
  if (!credential) return { reason: 'credential', text: 'no credential' };
  if (target.type === 'webhook' && !target.url) return { reason: 'misconfigured', text: 'webhook without a url' };
  if (target.type === 'telegram' && !target.chatId)
    return { reason: 'misconfigured', text: 'telegram without a chat id' };
  const fromSecret = target.type !== 'webhook';
  if (!URL.canParse(url)) {
    return fromSecret
      ? {
          reason: 'credential',
          text:
            target.type === 'slack'
              ? 'its secret must hold the Slack incoming-webhook URL'
              : 'its secret must hold the bot token',
        }
      : { reason: 'misconfigured', text: 'not a valid URL' };
  }
  // fetch refuses a URL with a user or password, and its error would carry them.
  const u = new URL(url);
  if (u.username || u.password)
    return { reason: fromSecret ? 'credential' : 'misconfigured', text: 'the URL must not carry a user or password' };
  return undefined;
}

/**
 * A send refused because its URL points at an internal address (ALERT_TARGETS_ALLOW_PRIVATE
 * is false): failed for good, no request made. The reason says what to fix, as for any
 * unusable configuration: a webhook's channel, a Slack channel's secret.
 */
function refused(target: ChannelTarget, why: string): SendResult {
  return {
    ok: false,
    retryable: false,
    reason: target.type === 'webhook' ? 'misconfigured' : 'credential',
    error: `refused ${target.type} target: ${why}`,
  };
}

export async function sendToChannel(
  target: ChannelTarget,
  credential: string,
  message: AlertMessage,
  options: SendOptions = {},
): Promise<SendResult> {
  const now = (options.now ?? (() => new Date()))();
  const doFetch = options.fetch ?? fetch;
  const req = request(target, credential, message, now, options);
  // The credential can sit in the URL (Slack, Telegram): never let it into a message.
  // Only failures build messages, so the forms are worked out only then.
  const mask = (s: string) => secretForms(credential).reduce((out, f) => out.split(f).join('[REDACTED]'), s);
  // A channel that cannot work as configured is not worth retrying. Slack's URL and
  // Telegram's token come from the secret, a webhook's URL from the channel: the reason
  // says which to fix.
  const problem = configurationProblem(target, credential, req.url);
  if (problem)
    return {
      ok: false,
      retryable: false,
      reason: problem.reason,
      error: `invalid ${target.type} channel: ${problem.text}`,
    };
  // Webhook and Slack URLs are the tenant's choice: sent so they cannot reach an
  // internal host. Telegram's base URL is the operator's (TELEGRAM_API_URL).
  const tenantUrl = target.type !== 'telegram';
  // guardedPost refuses a literal internal address itself; a test's fetch gets the same check here.
  const literal =
    tenantUrl && options.fetch && !options.allowPrivateTargets ? literalTargetProblem(req.url) : undefined;
  if (literal) return refused(target, mask(literal));
  const timeoutMs = options.timeoutMs ?? 10_000;
  // One time limit for the request and reading its answer. A controller with a timer
  // cleared on completion, not AbortSignal.timeout: that one is several times dearer
  // to create and keeps a timer per send alive for the whole limit.
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError')),
    timeoutMs,
  );
  const oneOff = tenantUrl && !options.fetch && !options.http ? createGuardedPost() : undefined;
  const http = tenantUrl && !options.fetch ? (options.http ?? oneOff) : undefined;
  let res: HttpAnswer;
  let text: string;
  try {
    res = http
      ? await http.post(req.url, {
          body: req.body,
          headers: req.headers,
          signal: controller.signal,
          allowPrivate: options.allowPrivateTargets ?? false,
        })
      : await doFetch(req.url, {
          method: 'POST',
          body: req.body,
          headers: req.headers,
          signal: controller.signal,
          redirect: 'manual',
        });
    text = await res.text().catch(() => '');
  } catch (err) {
    const e = err as Error;
    if (e instanceof TargetRefusedError) return refused(target, mask(e.message));
    const reason =
      e.name === 'TimeoutError' || e.name === 'AbortError'
        ? `timed out after ${timeoutMs} ms`
        : mask(`${e.message}${(e.cause as Error | undefined)?.message ? `: ${(e.cause as Error).message}` : ''}`);
    return { ok: false, retryable: true, error: reason };
  } finally {
    clearTimeout(timer);
    oneOff?.close();
  }
  if (res.ok) return { ok: true, status: res.status };
  if (res.status === 429) {
    let after = retryAfterMs(res.headers.get('retry-after'), now);
    if (after === undefined && target.type === 'telegram') {
      try {
        const seconds = (JSON.parse(text) as { parameters?: { retry_after?: number } }).parameters?.retry_after;
        if (typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0)
          after = Math.min(MAX_RETRY_AFTER_MS, seconds * 1000);
      } catch {
        // not JSON: fall back to the default pause
      }
    }
    return {
      ok: false,
      status: 429,
      retryable: true,
      retryAfterMs: after ?? 30_000,
      error: 'rate limited by the receiver (429)',
    };
  }
  return {
    ok: false,
    status: res.status,
    retryable: res.status >= 500,
    error: mask(`HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`),
  };
}
