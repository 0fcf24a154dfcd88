/**
 * Signed webhooks, after the Slack scheme the Bematic seed uses: the signature is
 * HMAC-SHA256 over `v1:<timestamp>:<body>` with the channel's secret, sent with the
 * timestamp in headers. Receivers call verifyWebhookSignature, which refuses a bad
 * signature or a timestamp more than 5 minutes from their clock.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-bulwark-signature';
export const TIMESTAMP_HEADER = 'x-bulwark-timestamp';

function sign(secret: string, body: string, timestampSec: number): string {
  return `v1=${createHmac('sha256', secret).update(`v1:${timestampSec}:${body}`).digest('hex')}`;
}

export function signWebhook(secret: string, body: string, timestampSec: number): Record<string, string> {
  return { [SIGNATURE_HEADER]: sign(secret, body, timestampSec), [TIMESTAMP_HEADER]: String(timestampSec) };
}

export type VerifyResult = { ok: true } | { ok: false; reason: 'missing_headers' | 'bad_format' | 'stale_timestamp' | 'bad_signature' };

export function verifyWebhookSignature(input: {
  secret: string;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  now?: Date;
  /** Largest accepted clock difference. Default: 300 s. */
  toleranceSec?: number;
}): VerifyResult {
  const header = (name: string) => {
    const v = input.headers[name] ?? input.headers[name.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  };
  const signature = header(SIGNATURE_HEADER);
  const timestamp = header(TIMESTAMP_HEADER);
  if (!signature || !timestamp) return { ok: false, reason: 'missing_headers' };
  if (!/^\d{1,12}$/.test(timestamp) || !/^v1=[0-9a-f]{64}$/.test(signature)) return { ok: false, reason: 'bad_format' };
  const now = Math.floor((input.now ?? new Date()).getTime() / 1000);
  if (Math.abs(now - Number(timestamp)) > (input.toleranceSec ?? 300)) return { ok: false, reason: 'stale_timestamp' };
  const expected = Buffer.from(sign(input.secret, input.body, Number(timestamp)));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given) ? { ok: true } : { ok: false, reason: 'bad_signature' };
}
