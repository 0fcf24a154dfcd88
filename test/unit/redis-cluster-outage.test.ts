// What the API's Redis Cluster client throws during a failover is an outage (503 +
// Retry-After), not a bug (500): the errors as ioredis' Cluster builds them
// (cluster/index.js handleError: "Too many Cluster redirections. Last error: " + error).
// test/integration/redis/cluster-failover.test.ts meets them for real.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { outageOf } from '../../api/unavailable.js';

const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });
const gaveUp = (last: Error) => new Error(`Too many Cluster redirections. Last error: ${String(last)}`);

test('a command given up during a failover is the job store unreachable', () => {
  for (const last of [
    reply('CLUSTERDOWN The cluster is down'),
    reply('TRYAGAIN Multiple keys request during rehashing of slot'),
    new Error('Connection is closed.'),
    new Error('connect ECONNREFUSED 127.0.0.1:7000'),
    reply('MOVED 3999 127.0.0.1:6381'),
  ])
    assert.equal(outageOf(gaveUp(last)), { dependency: 'redis', reason: 'unreachable' }, String(last));
  assert.equal(outageOf(gaveUp(reply('OOM command not allowed when used memory > maxmemory'))), {
    dependency: 'redis',
    reason: 'out_of_memory',
  });
});

test('a cluster with no usable node is unreachable; an unrelated error stays a bug', () => {
  for (const message of [
    'Failed to refresh slots cache.',
    "Cluster isn't ready and enableOfflineQueue options is false",
    'None of startup nodes is available',
  ])
    assert.equal(outageOf(new Error(message)), { dependency: 'redis', reason: 'unreachable' }, message);
  assert.is(outageOf(new Error('Cannot read properties of undefined')), undefined);
  assert.is(outageOf(reply('ERR wrong number of arguments')), undefined);
});

test.run();
