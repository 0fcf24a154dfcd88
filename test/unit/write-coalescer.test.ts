// The producer's write coalescing as a group commit: a turn's writes share a job, and
// while two jobs are on their way, later writes gather into the next one instead of
// each turn sending its own. The enqueue here is a function the test answers by hand
// (the real-Redis side is test/integration/audit/producer-coalesce.test.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { AuditEntry } from '../../lib/contracts/audit.js';
import { createWriteCoalescer } from '../../producers/coalesce.js';

const turn = () => new Promise((r) => setImmediate(r));
const entry = (n: number) => ({ eventId: `e${n}` }) as unknown as AuditEntry;

function controlledEnqueue() {
  const sent: Array<{ ids: string[]; answer: (n: number) => void; fail: (e: Error) => void }> = [];
  const enqueue = (entries: AuditEntry[]) =>
    new Promise<number>((answer, fail) => sent.push({ ids: entries.map((e) => e.eventId), answer, fail }));
  return { sent, enqueue };
}

test('writes of a turn share a job; while two jobs are in flight, the next turns gather into one', async () => {
  const { sent, enqueue } = controlledEnqueue();
  const c = createWriteCoalescer(enqueue);
  const first = [c.add(entry(1)), c.add(entry(2))];
  await turn();
  assert.equal(sent.map((s) => s.ids), [['e1', 'e2']]);
  const second = c.add(entry(3));
  await turn();
  assert.is(sent.length, 2, 'a second job may go while the first is in flight');
  const later: Array<Promise<number>> = [];
  for (let i = 4; i < 14; i++) {
    later.push(c.add(entry(i)));
    await turn();
  }
  assert.is(sent.length, 2, 'ten more turns, no third job while two are in flight');
  sent[0]!.answer(1);
  assert.equal(await Promise.all(first), [1, 1]);
  await turn();
  assert.equal(sent[2]!.ids, ['e4', 'e5', 'e6', 'e7', 'e8', 'e9', 'e10', 'e11', 'e12', 'e13'], 'the gathered writes went as one job, in order');
  sent[1]!.answer(2);
  sent[2]!.answer(3);
  assert.is(await second, 2);
  assert.equal(await Promise.all(later), Array(10).fill(3));
});

test('a failed job fails its own writes only; flush waits for every job', async () => {
  const { sent, enqueue } = controlledEnqueue();
  const c = createWriteCoalescer(enqueue);
  const a = c.add(entry(1)).catch((e: Error) => e.message);
  await turn();
  const b = c.add(entry(2));
  let flushed = false;
  const flushing = c.flush().then(() => (flushed = true));
  await turn();
  sent[0]!.fail(new Error('redis down'));
  assert.is(await a, 'redis down');
  await turn();
  assert.is(flushed, false, 'the second job is still in flight');
  sent[1]!.answer(7);
  assert.is(await b, 7);
  await flushing;
  assert.is(flushed, true);
});

test.run();
