/**
 * The webhook channel's JSON body, held to a byte size. A digest or group of up to
 * 1,000 alerts, each with 64 labels and its own runbook link, makes a body of megabytes;
 * receivers refuse that with 413 (many cap at 256 KiB–1 MiB), which fails the send for
 * good and loses the whole message on that channel. So a body over the limit is fitted:
 * every field but `text` and `items` kept as it is (`alertIds` still names every alert),
 * `text` cut on a line with a note (fit.ts), as many whole `items` as fit in order, and
 * `omitted` saying how many items were left out. Nothing is cut inside a JSON value but
 * `text`, so each kept item keeps its labels and runbook link. A body within the limit
 * is the unfitted one, byte for byte, with no `omitted`.
 */
import { WEBHOOK_BODY_MAX_BYTES } from '../../../../lib/contracts/alert-delivery.js';
import { fitText } from './fit.js';
import type { AlertMessage } from './types.js';

type Item = NonNullable<AlertMessage['items']>[number];

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
/** What a string adds to a body as a JSON value, beyond the empty string `""`. */
const valueBytes = (s: string) => bytes(JSON.stringify(s)) - 2;

function serialize(m: AlertMessage, text: string, items: Item[], omitted?: number): string {
  const fitted = omitted === undefined ? {} : { omitted };
  return JSON.stringify({ version: 1, tenantId: m.tenantId, alertIds: m.alertIds, severity: m.severity, title: m.title, text, runbookUrl: m.runbookUrl ?? null, items, ...fitted });
}

/** `text` cut to at most `room` bytes as a JSON value, or `""` when not even the note fits. */
function fitValue(text: string, room: number): string {
  if (valueBytes(text) <= room) return text;
  const cut = fitText(text, room, valueBytes);
  return valueBytes(cut) <= room ? cut : '';
}

/** How many items, from the first, fit in `room` bytes of an array's content, and the bytes they take. */
function leading(sizes: number[], room: number): { count: number; bytes: number } {
  let used = 0;
  let count = 0;
  for (const size of sizes) {
    const add = size + (count > 0 ? 1 : 0); // the comma between items
    if (used + add > room) break;
    used += add;
    count += 1;
  }
  return { count, bytes: used };
}

function fitted(m: AlertMessage, items: Item[], maxBytes: number): string {
  // Every field at its final size but text and items; `omitted` at its largest value.
  const room = maxBytes - bytes(serialize(m, '', [], items.length));
  // Unreachable within WEBHOOK_BODY_MAX_BYTES.min and the contract's limits (see there):
  // the smallest body is sent rather than none.
  if (room <= 0) return serialize(m, '', [], items.length);
  const sizes = items.map((i) => bytes(JSON.stringify(i)));
  // The text (a reader's summary) takes at most half the room and the items what it
  // leaves; then the text gets back whatever the items did not use. It only grows, so
  // the items chosen still fit.
  const kept = leading(sizes, room - valueBytes(fitValue(m.text, Math.floor(room / 2))));
  const text = fitValue(m.text, room - kept.bytes);
  return serialize(m, text, items.slice(0, kept.count), items.length - kept.count);
}

/** The body sent to a webhook channel: at most `maxBytes` of UTF-8 (see the top of this file). */
export function webhookBody(m: AlertMessage, maxBytes: number = WEBHOOK_BODY_MAX_BYTES.default): string {
  const items = m.items ?? [];
  const whole = serialize(m, m.text, items);
  return bytes(whole) <= maxBytes ? whole : fitted(m, items, maxBytes);
}
