// A security entry that raises an alert: the audit-write job and the alert job reach
// Redis in ONE transaction (MULTI … EXEC), so a producer that dies or loses Redis
// between them cannot leave a stored security entry that never alerts. Watched with
// Redis's own MONITOR (read on a plain socket: test/helpers/redis-monitor.ts says why);
// an entry that raises no alert still takes the single plain add. This is the producer
// without fair dispatch (`fair: false`); with it, the two are parked in one script call
// (test/integration/fair/dispatch.test.ts, and fair/deadline.test.ts for none of them past the deadline).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { ALERT_QUEUE } from '../../../lib/contracts/alert.js';
import { AUDIT_WRITE_QUEUE } from '../../../lib/contracts/audit.js';
import { createProducer, securityAlertIdFor, type Producer } from '../../../producers/index.js';
import { REDIS_URL, randomPrefix, waitFor } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { obliterateQueues } from '../../helpers/queues.js';
import { startMonitor, type RedisMonitor } from '../../helpers/redis-monitor.js';

const prefix = randomPrefix('atomic');
const tenantId = randomUUID();
let producer: Producer;
let monitor: RedisMonitor;
let connection: Redis;
/** [client address, command, first key of this test's queues] of every command Redis ran, scripts' inner calls left out. */
const seen: Array<[string, string, string]> = [];

test.before(
  setup(async () => {
    monitor = await startMonitor(REDIS_URL, ({ source, args }) => {
      if (source !== 'lua')
        seen.push([source, String(args[0]).toLowerCase(), args.find((a) => a.startsWith(`${prefix}:`)) ?? '']);
    });
    producer = createProducer({ redisUrl: REDIS_URL, queuePrefix: prefix, fair: false });
    connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  }),
);
test.after(
  cleanup([
    ['close producer', () => producer?.close()],
    ['close monitor', () => monitor?.close()],
    ['obliterate queues', () => obliterateQueues(prefix)],
    ['quit redis', () => connection?.quit()],
  ]),
);

/** The commands from the first that touched this test's queues up to the end, of that client. */
async function commandsOfWrite(write: () => Promise<unknown>): Promise<Array<[string, string]>> {
  seen.length = 0;
  await write();
  const queueKey = (q: string) => `${prefix}:${q}:`;
  // MONITOR reports commands in the order Redis runs them, and every command of the
  // write ran before it answered: a marker sent now is reported after all of them.
  const marker = `${prefix}:marker:${randomUUID()}`;
  await connection.echo(marker);
  await waitFor(async () => seen.some(([, , key]) => key === marker), 'the marker seen by MONITOR');
  const client = seen.find(([, , key]) => key.startsWith(queueKey(AUDIT_WRITE_QUEUE)))?.[0];
  assert.ok(client, 'the audit add seen by MONITOR');
  return seen
    .filter(([source, cmd]) => source === client && cmd !== 'info' && cmd !== 'hset')
    .map(([, cmd, key]) => [
      cmd,
      key.startsWith(queueKey(AUDIT_WRITE_QUEUE))
        ? 'audit-write'
        : key.startsWith(queueKey(ALERT_QUEUE))
          ? 'alert'
          : key,
    ]);
}

const base = { tenantId, actorType: 'user', actorId: 'u-1', resourceType: 'session', resourceId: 's-1' } as const;

test('a high security entry: its audit job and its alert job in one MULTI … EXEC', async () => {
  let eventId = '';
  const commands = await commandsOfWrite(
    async () =>
      void ({ eventId } = await producer.audit.write({ ...base, action: 'security:auth-failed', severity: 'high' })),
  );
  const names = commands.map(([cmd, what]) => (cmd === 'multi' || cmd === 'exec' ? cmd : what));
  assert.equal(names, ['multi', 'audit-write', 'alert', 'exec'], JSON.stringify(commands));
  // Both jobs are there, the alert under its id derived from the entry.
  assert.is(await new Queue(AUDIT_WRITE_QUEUE, { connection, prefix }).count(), 1);
  const alerts = await new Queue(ALERT_QUEUE, { connection, prefix }).getJobs(['waiting']);
  assert.equal(
    alerts.map((j) => (j.data as { alert: { id: string } }).alert.id),
    [securityAlertIdFor(tenantId, eventId)],
  );
});

test('writeMany with several alerting entries: one transaction for the job and every alert', async () => {
  const entries = [
    { ...base, action: 'security:auth-failed', severity: 'critical' },
    { ...base, action: 'task:completed' },
    { ...base, action: 'security:mfa-bypass', severity: 'high' },
  ] as const;
  const commands = await commandsOfWrite(() => producer.audit.writeMany([...entries]));
  const names = commands.map(([cmd, what]) => (cmd === 'multi' || cmd === 'exec' ? cmd : what));
  assert.equal(names, ['multi', 'audit-write', 'alert', 'alert', 'exec'], JSON.stringify(commands));
});

test('an entry that raises no alert: one plain add, no transaction', async () => {
  const commands = await commandsOfWrite(() =>
    producer.audit.write({ ...base, action: 'security:auth-failed', severity: 'low' }),
  );
  const names = commands.map(([cmd, what]) => (cmd === 'multi' || cmd === 'exec' ? cmd : what));
  assert.equal(names, ['audit-write'], JSON.stringify(commands));
});

test("a job that Redis refuses inside the transaction fails the write (MULTI does not roll back; BullMQ's addBulk dropped the error)", async () => {
  // A key of the wrong type stands in for any error a job's script meets inside EXEC
  // (OOM under maxmemory, say): the other commands of the transaction still ran.
  for (const queue of [AUDIT_WRITE_QUEUE, ALERT_QUEUE]) {
    const own = randomPrefix('atomic-refused');
    const other = createProducer({ redisUrl: REDIS_URL, queuePrefix: own, fair: false });
    try {
      await connection.set(`${own}:${queue}:wait`, 'not a list');
      const error = await other.audit.write({ ...base, action: 'security:auth-failed', severity: 'high' }).then(
        () => undefined,
        (err: Error) => err,
      );
      // The caller is told, so it retries (idempotent: eventId dedupe, the alert's job id).
      assert.match(String(error?.message), /WRONGTYPE/, `${queue}: the write resolved`);
    } finally {
      await other.close();
      await connection.del(`${own}:${queue}:wait`);
      await obliterateQueues(own);
    }
  }
});

test('after close, a security entry is refused as closed and nothing is added (no flow producer made then)', async () => {
  const closing = createProducer({ redisUrl: REDIS_URL, queuePrefix: prefix });
  await closing.close();
  const before = await new Queue(AUDIT_WRITE_QUEUE, { connection, prefix }).count();
  const err = await closing.audit.writeMany([{ ...base, action: 'security:auth-failed', severity: 'critical' }]).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.instance(err, Error);
  assert.match((err as Error).message, 'the producer is closed: the entries were not enqueued');
  assert.is(await new Queue(AUDIT_WRITE_QUEUE, { connection, prefix }).count(), before);
});

test.run();
