/**
 * Fitting a message's text into what a chat channel takes. Telegram refuses a
 * sendMessage whose text is longer than 4,096 characters after entities parsing (400,
 * "message is too long"), which the delivery records as `rejected` for good: a single
 * alert with a long body, or any digest or group of a few dozen alerts, was never sent
 * at all. Slack cuts a message past 40,000 characters itself, and with it the runbook
 * link at the end. So the text is cut here, with a line saying how much was left out;
 * every alert stays whole in the ledger and in the webhook channel's `items`.
 */

/** Telegram's sendMessage limit, in characters after entities parsing. */
export const TELEGRAM_TEXT_MAX = 4096;
/** Where Slack truncates a message's text. */
export const SLACK_TEXT_MAX = 40_000;

const note = (lines: number) => `\n… ${lines} more line${lines === 1 ? '' : 's'} left out to fit the channel; every alert is in the ledger (bulwark alerts log)`;

/**
 * `text`, or as much of it as fits in `max` once passed through `measure` (the escaped
 * or visible form, whichever the channel counts), followed by a note of what was left out.
 * Lengths are UTF-16 code units, never fewer than the characters the channels count.
 * The cut falls on a line break when one is in the second half, so a digest loses whole
 * alerts rather than half of one, and never splits a surrogate pair.
 */
export function fitText(text: string, max: number, measure: (s: string) => number = (s) => s.length): string {
  if (measure(text) <= max) return text;
  const cutAt = (end: number) => {
    let cut = end;
    if (cut > 0 && cut < text.length && /[\uD800-\uDBFF]/.test(text[cut - 1]!)) cut -= 1;
    const lineBreak = text.lastIndexOf('\n', cut - 1);
    if (lineBreak > cut / 2) cut = lineBreak;
    const rest = text.slice(cut).replace(/^\n/, '');
    return text.slice(0, cut) + note(rest.split('\n').length);
  };
  // The longest prefix that fits with its note: measure() only grows with the prefix.
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (measure(cutAt(mid)) <= max) lo = mid;
    else hi = mid - 1;
  }
  return cutAt(lo);
}
