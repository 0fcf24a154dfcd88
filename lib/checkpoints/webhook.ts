/**
 * The second place a checkpoint goes (optional, AUDIT_CHECKPOINT_WEBHOOK_URL): the
 * checkpoints a job has just written are POSTed, as signed, to a receiver the operator
 * of the database does not control alone (an auditor's endpoint, another account's
 * function, a log service). Body, JSON:
 *
 *   {"format":"bulwark-audit-checkpoints","v":1,"checkpoints":[<checkpoint object>, …]}
 *
 * each element exactly the object stored (docs/audit-checkpoints.md), so the receiver
 * checks it with the same public key and tools. Best effort beside the store, which
 * stays the record: three attempts (1 s, then 2 s apart) on a network error, a timeout,
 * 429 or 5xx; then the failure is logged and counted and the job goes on. Messages name
 * the status or error code, never the URL (it may hold a token).
 */
import { withTimeout } from '../time.js';

export interface WebhookResult {
  ok: boolean;
  attempts: number;
  /** The last answer's status, or the network error's code; never the URL. */
  detail: string;
}

const RETRIABLE = (status: number) => status === 429 || status >= 500;

/** The request body for checkpoint objects (each a stored object's JSON text, newline or not). */
export function webhookBody(documents: readonly Buffer[]): string {
  return `{"format":"bulwark-audit-checkpoints","v":1,"checkpoints":[${documents.map((d) => d.toString('utf8').trim()).join(',')}]}`;
}

export async function postCheckpoints(
  url: string,
  documents: readonly Buffer[],
  timeoutMs: number,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<WebhookResult> {
  const body = webhookBody(documents);
  let detail = '';
  for (let attempt = 1; attempt <= 3; attempt++) {
    if (attempt > 1) await sleep(1000 * (attempt - 1));
    try {
      const res = await withTimeout(
        fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'bulwark-checkpoints' },
          body,
          redirect: 'error',
          signal: AbortSignal.timeout(timeoutMs),
        }),
        timeoutMs + 1000,
        'checkpoint webhook',
      );
      await res.body?.cancel().catch(() => undefined);
      if (res.ok) return { ok: true, attempts: attempt, detail: `HTTP ${res.status}` };
      detail = `HTTP ${res.status}`;
      if (!RETRIABLE(res.status)) return { ok: false, attempts: attempt, detail };
    } catch (err) {
      const e = err as { name?: string; cause?: { code?: unknown } };
      const code = typeof e.cause?.code === 'string' ? e.cause.code : e.name === 'TimeoutError' ? 'timeout' : 'error';
      detail = /^[A-Za-z0-9_.-]{1,64}$/.test(code) ? code : 'error';
    }
  }
  return { ok: false, attempts: 3, detail };
}
