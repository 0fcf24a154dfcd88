// The Redis topology variables: one server by default (key names unchanged), a cluster
// (REDIS_CLUSTER_NODES: the BullMQ prefix in braces) or Sentinel (REDIS_SENTINELS), each
// checked, one at a time, and no password ever echoed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';
import { hasHashTag, parseNode, queuePrefixFor, urlCredentials } from '../../lib/redis-topology.js';

function problems(env: Record<string, string>): Array<{ path: string; message: string }> {
  try {
    loadConfig(env);
  } catch (err) {
    assert.instance(err, ConfigError);
    return (err as ConfigError).problems.map((p) => ({ path: p.path, message: p.message }));
  }
  throw new Error('expected a ConfigError');
}

test('by default one server, and the key names are what they always were', () => {
  const c = loadConfig({ QUEUE_PREFIX: 'acme' });
  assert.equal(c.redis, { mode: 'single' });
  assert.is(c.queuePrefix, 'acme');
  assert.is(c.keyPrefix, 'acme');
});

test('REDIS_CLUSTER_NODES: parsed into nodes (names, IPv4, bracketed IPv6); BullMQ keys under the prefix in braces', () => {
  const c = loadConfig({ REDIS_CLUSTER_NODES: ' redis-a.internal:7000,10.0.0.2:7001 , [::1]:7002,' });
  assert.equal(c.redis, {
    mode: 'cluster',
    nodes: [
      { host: 'redis-a.internal', port: 7000 },
      { host: '10.0.0.2', port: 7001 },
      { host: '::1', port: 7002 },
    ],
  });
  assert.is(c.queuePrefix, '{bulwark}');
  assert.is(c.keyPrefix, 'bulwark');
  assert.ok(Object.isFrozen(c.redis));
});

test('a node that is not host:port is named; so is an empty list', () => {
  for (const bad of ['redis-a', 'redis-a:0', 'redis-a:65536', 'redis://a:1', 'a:1,b', ' , ']) {
    const p = problems({ REDIS_CLUSTER_NODES: bad });
    assert.equal(
      p.map((x) => x.path),
      ['REDIS_CLUSTER_NODES'],
      bad,
    );
  }
  assert.match(problems({ REDIS_CLUSTER_NODES: 'a:1,oops' })[0]!.message, '"oops" is not host:port');
});

test('a cluster has only database 0; the URL (and its password) is never echoed', () => {
  const p = problems({ REDIS_CLUSTER_NODES: 'a:1', REDIS_URL: 'redis://:s3cret-pass@a:1/2' });
  assert.equal(
    p.map((x) => x.path),
    ['REDIS_URL'],
  );
  assert.not.match(JSON.stringify(p), 's3cret');
  assert.is(loadConfig({ REDIS_CLUSTER_NODES: 'a:1', REDIS_URL: 'redis://a:1/0' }).redis.mode, 'cluster');
});

test('REDIS_SENTINELS: the sentinels, the master name (default mymaster) and their password', () => {
  const c = loadConfig({ REDIS_SENTINELS: 's1:26379,s2:26379' });
  assert.equal(c.redis, {
    mode: 'sentinel',
    sentinels: [
      { host: 's1', port: 26379 },
      { host: 's2', port: 26379 },
    ],
    masterName: 'mymaster',
    sentinelPassword: undefined,
  });
  assert.is(c.queuePrefix, 'bulwark', 'Sentinel keeps the key names');
  const named = loadConfig({
    REDIS_SENTINELS: 's1:26379',
    REDIS_SENTINEL_MASTER: 'bulwark-main',
    REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
  }).redis;
  assert.equal(named.mode === 'sentinel' && [named.masterName, named.sentinelPassword], [
    'bulwark-main',
    'sentinel-secret',
  ]);
});

test('one topology at a time; the sentinel variables need REDIS_SENTINELS; no value echoed', () => {
  assert.equal(
    problems({ REDIS_CLUSTER_NODES: 'a:1', REDIS_SENTINELS: 's:2' }).map((p) => p.path),
    ['REDIS_SENTINELS'],
  );
  const p = problems({ REDIS_SENTINEL_PASSWORD: 'lonely-secret', REDIS_SENTINEL_MASTER: 'm' });
  assert.equal(p.map((x) => x.path).sort(), ['REDIS_SENTINEL_MASTER', 'REDIS_SENTINEL_PASSWORD']);
  assert.not.match(JSON.stringify(p), 'lonely-secret');
  assert.equal(
    problems({ REDIS_SENTINELS: 's:1', REDIS_SENTINEL_MASTER: 'bad name!' }).map((x) => x.path),
    ['REDIS_SENTINEL_MASTER'],
  );
});

test('helpers: nodes, hash tags, the prefix per topology, URL credentials', () => {
  assert.equal(parseNode('[fe80::1]:6379'), { host: 'fe80::1', port: 6379 });
  assert.is(parseNode('host:'), undefined);
  assert.ok(hasHashTag('{bulwark}'));
  assert.not.ok(hasHashTag('bul{}wark'));
  assert.is(queuePrefixFor('bulwark', { mode: 'cluster' }), '{bulwark}');
  assert.is(queuePrefixFor('{bulwark}', { mode: 'cluster' }), '{bulwark}', 'not wrapped twice');
  assert.is(queuePrefixFor('bulwark', { mode: 'sentinel' }), 'bulwark');
  assert.equal(urlCredentials('rediss://user:p%40ss@h:1/3'), { username: 'user', password: 'p@ss', tls: {}, db: 3 });
  assert.equal(urlCredentials('redis://h:1'), { db: 0 });
});

test.run();
