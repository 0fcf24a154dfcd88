// `bulwark fair status` reads Redis only, and lists every queue whose definition declares
// `fair` (the worker registry's: audit-write, alert, retention), each with its unit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REDIS_URL, randomPrefix } from '../../helpers/env.js';
import { runCli } from '../../helpers/cli.js';
import { obliterateQueues } from '../../helpers/queues.js';

const prefix = randomPrefix('fair-status');
const env = { DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none', REDIS_URL, QUEUE_PREFIX: prefix };

test.after(() => obliterateQueues(prefix));

test('bulwark fair status --json lists the fair queues of the registry, nothing parked', async () => {
  const r = await runCli(['fair', 'status', '--json'], env);
  assert.is(r.code, 0, r.err);
  const all = JSON.parse(r.out) as Array<{ queue: string; unit: string; stats: { parkedJobs: number } }>;
  assert.equal(
    all.map((q) => [q.queue, q.unit, q.stats.parkedJobs]),
    [
      ['audit-write', 'entries', 0],
      ['alert', 'jobs', 0],
      ['retention', 'jobs', 0],
    ],
  );
});

test('bulwark fair status prints one line per fair queue', async () => {
  const r = await runCli(['fair', 'status'], env);
  assert.is(r.code, 0, r.err);
  assert.equal(
    r.outLines.map((l) => l.split(':')[0]),
    ['audit-write', 'alert', 'retention'],
  );
});

test.run();
