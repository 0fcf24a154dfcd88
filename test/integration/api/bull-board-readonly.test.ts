// Bull Board's read-only mode is enforced by the server, not only hidden in the UI:
// an operator's mutations through the dashboard API (promote a job, pause a queue,
// pause all) are refused and change nothing in Redis by default and in live even with
// BULL_BOARD_READ_ONLY=false; in dev with BULL_BOARD_READ_ONLY=false they work.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { AUDIT_VERIFY_QUEUE } from '../../../lib/contracts/audit.js';
import { ALL_QUEUES } from '../../helpers/queues.js';
import { basic, OPERATOR, startApi } from '../../helpers/api.js';

const BOARD_API = '/admin/queues/api/queues';

interface Outcome {
  readOnlyModes: boolean[];
  statuses: { promote: number; pause: number; pauseAll: number };
  refusal: string;
  jobState: string;
  paused: Record<string, boolean>;
}

/** Start Bulwark with `env`, try the three mutations as the operator, report what Redis holds after. */
async function tryMutations(env: Record<string, string>): Promise<Outcome> {
  const api = await startApi(env);
  const connection = api.bulwark.ctx.redis;
  const queues = ALL_QUEUES.map((name) => new Queue(name, { connection, prefix: api.bulwark.ctx.config.queuePrefix }));
  try {
    const verify = queues.find((q) => q.name === AUDIT_VERIFY_QUEUE)!;
    const job = await verify.add('verify', {}, { delay: 3_600_000 });
    const board = (method: string, path: string) =>
      api.call(method, `${BOARD_API}${path}`, {
        headers: { authorization: basic(OPERATOR.username, OPERATOR.password) },
      });
    const list = await board('GET', '');
    assert.is(list.status, 200);
    const { queues: shown } = (await list.json()) as { queues: Array<{ readOnlyMode: boolean }> };
    const promote = await board('PUT', `/${AUDIT_VERIFY_QUEUE}/${job.id}/promote`);
    const refusal = await promote.text();
    const pause = await board('PUT', `/${AUDIT_VERIFY_QUEUE}/pause`);
    await pause.arrayBuffer();
    const pauseAll = await board('PUT', '/pause');
    await pauseAll.arrayBuffer();
    const paused: Record<string, boolean> = {};
    for (const q of queues) paused[q.name] = await q.isPaused();
    return {
      readOnlyModes: shown.map((q) => q.readOnlyMode),
      statuses: { promote: promote.status, pause: pause.status, pauseAll: pauseAll.status },
      refusal,
      jobState: await verify.getJobState(job.id!),
      paused,
    };
  } finally {
    await Promise.all(queues.map((q) => q.close()));
    await api.close();
  }
}

const nonePaused = Object.fromEntries(ALL_QUEUES.map((n) => [n, false]));
const allPaused = Object.fromEntries(ALL_QUEUES.map((n) => [n, true]));

function assertRefused(o: Outcome): void {
  assert.equal(
    o.readOnlyModes,
    ALL_QUEUES.map(() => true),
  );
  assert.equal(
    o.statuses,
    { promote: 405, pause: 405, pauseAll: 200 },
    'pause-all answers 200 but skips read-only queues',
  );
  assert.equal(
    o.readOnlyModes,
    ALL_QUEUES.map(() => true),
  );
  assert.equal(
    o.statuses,
    { promote: 405, pause: 405, pauseAll: 200 },
    'pause-all answers 200 but skips read-only queues',
  );
  assert.match(o.refusal, 'QUEUE_READ_ONLY');
  assert.is(o.jobState, 'delayed', 'the job was not promoted');
  assert.equal(o.paused, nonePaused, 'no queue was paused');
}

test('read-only by default: promote and pause are refused with 405 and Redis is unchanged', async () => {
  assertRefused(await tryMutations({}));
});

test('live stays read-only even with BULL_BOARD_READ_ONLY=false', async () => {
  assertRefused(
    await tryMutations({
      BULWARK_ENV: 'live',
      BULL_BOARD_READ_ONLY: 'false',
      S3_ACCESS_KEY: 'bulwark-live',
      S3_SECRET_KEY: 'not-the-default-secret',
    }),
  );
});

test('in dev with BULL_BOARD_READ_ONLY=false the same calls promote the job and pause the queues', async () => {
  const o = await tryMutations({ BULL_BOARD_READ_ONLY: 'false' });
  assert.equal(
    o.readOnlyModes,
    ALL_QUEUES.map(() => false),
  );
  assert.equal(o.statuses, { promote: 204, pause: 200, pauseAll: 200 });
  assert.is.not(o.jobState, 'delayed', 'the job was promoted');
  assert.equal(o.paused, allPaused);
});

test.run();
