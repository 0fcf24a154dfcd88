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
 * The lines left out by a cut at `cut` (a line break there ends the kept part): one more
 * than the line breaks after it. Counted from the breaks' positions, found once, not by
 * splitting the rest at every step of the search (a digest's text runs to megabytes).
 */
function linesAfterCounter(text: string): (cut: number) => number {
  const breaks: number[] = [];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) breaks.push(i);
  return (cut) => {
    let lo = 0;
    let hi = breaks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (breaks[mid]! <= cut) lo = mid + 1;
      else hi = mid;
    }
    return breaks.length - lo + 1;
  };
}

/**
 * `text`, or as much of it as fits in `max` once passed through `measure` (the escaped
 * or visible form, whichever the channel counts), followed by a note of what was left out.
 * Lengths are UTF-16 code units, never fewer than the characters the channels count;
 * `measure` must never give less than the length.
 * The cut falls on a line break when one is in the second half, so a digest loses whole
 * alerts rather than half of one, and never splits a surrogate pair.
 */
export function fitText(text: string, max: number, measure: (s: string) => number = (s) => s.length): string {
  if (measure(text) <= max) return text;
  const linesAfter = linesAfterCounter(text);
  const cutAt = (end: number) => {
    let cut = end;
    if (cut > 0 && cut < text.length && /[\uD800-\uDBFF]/.test(text[cut - 1]!)) cut -= 1;
    const lineBreak = text.lastIndexOf('\n', cut - 1);
    if (lineBreak > cut / 2) cut = lineBreak;
    return text.slice(0, cut) + note(linesAfter(cut));
  };
  // The longest prefix that fits with its note: measure() only grows with the prefix.
  // measure() is never below the length (every channel's form and UTF-8 bytes are at
  // least that), and a cut keeps more than half its prefix, so no prefix past 2 * max
  // fits: the search starts there, not at a digest's megabytes of text.
  let lo = 0;
  let hi = Math.min(text.length, 2 * max + 1);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (measure(cutAt(mid)) <= max) lo = mid;
    else hi = mid - 1;
  }
  return cutAt(lo);
}
