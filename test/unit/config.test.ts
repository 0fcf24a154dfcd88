import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { CONFIG_VARIABLES, loadConfig } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';
import { alertInputSchema } from '../../lib/contracts/alert.js';
import { RUNBOOK_BASE_URL_MAX, runbookUrlFor, SELF_RAISED_RUNBOOKS } from '../../lib/runbooks.js';
import { createProducer } from '../../producers/index.js';

/** A live store's own key pair: live refuses the local stand-in's default. */
const LIVE_S3 = { S3_ACCESS_KEY: 'bulwark-live', S3_SECRET_KEY: 'not-the-default-secret' };

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.instance(err, ConfigError);
    return (err as ConfigError).problems.map((p) => p.path);
  }
  throw new Error('expected a ConfigError');
}

test('defaults work on a machine like this one and the result is frozen', () => {
  const c = loadConfig({});
  assert.is(c.databaseUrl, 'postgresql://postgres@127.0.0.1:5432/bulwark');
  assert.is(c.redisUrl, 'redis://127.0.0.1:6379');
  assert.is(c.env, 'dev');
  assert.is(c.logLevel, 'info');
  assert.is(c.queuePrefix, 'bulwark');
  assert.is(c.auditVerifyCron, '0 * * * *');
  assert.ok(Object.isFrozen(c));
});

test('every bad variable is named in one error', () => {
  const bad = problemsOf({ DATABASE_URL: 'mysql://x', REDIS_URL: 'nope', BULWARK_ENV: 'prod', PORT: '99999', LOG_LEVEL: 'loud', QUEUE_PREFIX: 'a:b' });
  assert.equal(bad.sort(), ['BULWARK_ENV', 'DATABASE_URL', 'LOG_LEVEL', 'PORT', 'QUEUE_PREFIX', 'REDIS_URL']);
});

test('an invalid cron expression fails with a clear message', () => {
  try {
    loadConfig({ AUDIT_VERIFY_CRON: '61 * * * *' });
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.instance(err, ConfigError);
    assert.match((err as Error).message, /AUDIT_VERIFY_CRON: must be a valid cron expression/);
  }
});

test('live refuses debug and trace log levels', () => {
  assert.equal(problemsOf({ BULWARK_ENV: 'live', LOG_LEVEL: 'debug', ...LIVE_S3 }), ['LOG_LEVEL']);
  assert.equal(problemsOf({ BULWARK_ENV: 'live', LOG_LEVEL: 'trace', ...LIVE_S3 }), ['LOG_LEVEL']);
  assert.is(loadConfig({ BULWARK_ENV: 'live', LOG_LEVEL: 'info', ...LIVE_S3 }).env, 'live');
});

test('a secret value is never echoed in the error', () => {
  const secret = 'S3cr3t-pa55w0rd';
  try {
    loadConfig({ DATABASE_URL: `mysql://admin:${secret}@db/x`, REDIS_URL: `http://:${secret}@r` });
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.not.match((err as Error).message, secret);
    assert.match((err as Error).message, /DATABASE_URL/);
    assert.match((err as Error).message, /REDIS_URL/);
  }
});

test('Bull Board is read-only by default and always in live', () => {
  assert.is(loadConfig({}).bullBoardReadOnly, true);
  assert.is(loadConfig({ BULL_BOARD_READ_ONLY: 'false' }).bullBoardReadOnly, false);
  assert.is(loadConfig({ BULWARK_ENV: 'live', BULL_BOARD_READ_ONLY: 'false', ...LIVE_S3 }).bullBoardReadOnly, true);
});

test('MASTER_KEYS, operator and CORS settings are checked up front without echoing secrets', () => {
  assert.equal(problemsOf({ MASTER_KEYS: 'k1:short-and-wrong' }), ['MASTER_KEYS']);
  assert.equal(problemsOf({ MASTER_KEYS: 'no-colon-here' }), ['MASTER_KEYS']);
  assert.equal(problemsOf({ OPERATOR_USERNAME: 'ops' }), ['OPERATOR_PASSWORD']);
  assert.equal(problemsOf({ CORS_ORIGINS: 'https://ok.example,not an origin' }), ['CORS_ORIGINS']);
  let message: string | undefined;
  try {
    loadConfig({ MASTER_KEYS: 'k1:c2VjcmV0LWJ1dC10b28tc2hvcnQ' });
  } catch (err) {
    message = (err as Error).message;
  }
  assert.ok(message, 'a malformed key must be refused');
  assert.not.match(message, 'c2VjcmV0LWJ1dC10b28tc2hvcnQ');
  assert.match(message, 'entry 1 (id k1)');
});

test('one error lists every bad variable and every cross-field problem that can still be judged', () => {
  const secrets = { db: 'Db-pa55w0rd-xyz', token: 'tok-short', password: 'pw-short', keys: 'k1:c2VjcmV0LWJ1dC10b28tc2hvcnQ' };
  const env = {
    PORT: '99999',
    DATABASE_URL: `mysql://admin:${secrets.db}@db/x`,
    METRICS_TOKEN: secrets.token,
    BULWARK_ENV: 'live',
    LOG_LEVEL: 'debug',
    OPERATOR_PASSWORD: secrets.password,
    MASTER_KEYS: secrets.keys,
    CORS_ORIGINS: 'not an origin',
  };
  let err: ConfigError | undefined;
  try {
    loadConfig(env);
  } catch (e) {
    assert.instance(e, ConfigError);
    err = e as ConfigError;
  }
  assert.ok(err, 'expected a ConfigError');
  // Per-variable problems first, in the schema's order, then the cross-field ones.
  assert.equal(err.problems.map((p) => p.path), ['DATABASE_URL', 'PORT', 'METRICS_TOKEN', 'OPERATOR_PASSWORD', 'LOG_LEVEL', 'MASTER_KEYS', 'OPERATOR_USERNAME', 'CORS_ORIGINS', 'S3_ACCESS_KEY', 'S3_SECRET_KEY']);
  const lines = err.message.split('\n');
  assert.is(lines[0], 'invalid configuration:');
  assert.is(lines.length, 1 + err.problems.length);
  for (const line of lines.slice(1)) assert.match(line, /^ {2}- [A-Z0-9_]+: \S/);
  assert.match(err.message, '  - LOG_LEVEL: debug and trace are refused in live');
  assert.match(err.message, '  - OPERATOR_USERNAME: OPERATOR_USERNAME and OPERATOR_PASSWORD must be set together');
  for (const value of Object.values(secrets)) assert.not.match(err.message, value);
  assert.not.match(err.message, 'c2VjcmV0LWJ1dC10b28tc2hvcnQ');
});

test('a cross-field rule whose own inputs are invalid is skipped, not guessed', () => {
  // BULWARK_ENV is not a known environment, so "live refuses debug" cannot be judged.
  assert.equal(problemsOf({ BULWARK_ENV: 'prod', LOG_LEVEL: 'debug', PORT: 'x' }), ['BULWARK_ENV', 'PORT']);
  // LOG_LEVEL is invalid itself: its own problem, no second one about live.
  assert.equal(problemsOf({ BULWARK_ENV: 'live', LOG_LEVEL: 'loud', ...LIVE_S3 }), ['LOG_LEVEL']);
  // Both operator variables set, one invalid: the pair rule holds, only the length is wrong.
  assert.equal(problemsOf({ OPERATOR_USERNAME: 'ops', OPERATOR_PASSWORD: 'short' }), ['OPERATOR_PASSWORD']);
});

test('RUNBOOK_BASE_URL is optional, must be http(s), and loses its trailing slash', () => {
  assert.is(loadConfig({}).runbookBaseUrl, undefined);
  assert.is(loadConfig({ RUNBOOK_BASE_URL: '' }).runbookBaseUrl, undefined);
  assert.is(loadConfig({ RUNBOOK_BASE_URL: 'https://git.example.com/bulwark/docs/runbooks/' }).runbookBaseUrl, 'https://git.example.com/bulwark/docs/runbooks');
  assert.is(loadConfig({ RUNBOOK_BASE_URL: 'http://wiki.internal/runbooks' }).runbookBaseUrl, 'http://wiki.internal/runbooks');
  for (const bad of ['docs/runbooks', 'ftp://example.com/runbooks', 'file:///srv/runbooks']) assert.equal(problemsOf({ RUNBOOK_BASE_URL: bad }), ['RUNBOOK_BASE_URL']);
});

test('RUNBOOK_BASE_URL (and the producer option) as long as its links allow: every link a valid alert; one character more refused', () => {
  const longest = (extra: number) => `https://docs.example.com/${'r'.repeat(RUNBOOK_BASE_URL_MAX - 'https://docs.example.com/'.length + extra)}`;
  const base = loadConfig({ RUNBOOK_BASE_URL: `${longest(0)}/` }).runbookBaseUrl;
  assert.is(base, longest(0));
  for (const action of [...Object.keys(SELF_RAISED_RUNBOOKS), 'security:anything-else']) {
    const parsed = alertInputSchema.safeParse({ tenantId: '00000000-0000-4000-8000-000000000001', type: 'x', severity: 'high', title: 't', runbookUrl: runbookUrlFor(base, action) });
    assert.ok(parsed.success, `${action}: ${JSON.stringify(parsed.error?.issues)}`);
  }
  assert.equal(problemsOf({ RUNBOOK_BASE_URL: longest(1) }), ['RUNBOOK_BASE_URL']);
  assert.throws(() => createProducer({ runbookBaseUrl: longest(1) }), (e: Error) => /runbookBaseUrl/.test(e.message) && /at most/.test(e.message));
  assert.equal(problemsOf({ RUNBOOK_BASE_URL: 'https://docs.example.com/run\u0000books' }), ['RUNBOOK_BASE_URL']);
});

test('RUNBOOK_BASE_URL (and the producer option) whose links would not be URLs is refused: a trailing space or control character passes as a URL on its own, not inside a link', () => {
  // The URL parser drops spaces and C0 controls at the ends of a URL only: the base
  // parsed, and every link "<base>/<page>.md" (a space in its host) failed the alert
  // contract, so every alert raised with it was lost.
  for (const bad of ['https://runbooks.example.com ', 'https://runbooks.example.com\u0001']) {
    assert.equal(problemsOf({ RUNBOOK_BASE_URL: bad }), ['RUNBOOK_BASE_URL'], JSON.stringify(bad));
  }
  // The producer's option is trimmed (zod's url), so only the control character stays.
  assert.throws(() => createProducer({ runbookBaseUrl: 'https://runbooks.example.com\u0001' }), (e: Error) => /runbookBaseUrl: makes runbook links that are not valid URLs/.test(e.message));
});

test('HEAP_GROWING_PERCENT defaults to 100 and takes 0 (V8 decides) to 1000 only', () => {
  assert.is(loadConfig({}).heapGrowingPercent, 100);
  assert.is(loadConfig({ HEAP_GROWING_PERCENT: '0' }).heapGrowingPercent, 0);
  for (const bad of ['-1', '1001', '1.5', 'lots']) assert.equal(problemsOf({ HEAP_GROWING_PERCENT: bad }), ['HEAP_GROWING_PERCENT'], bad);
});

test('WEBHOOK_MAX_BODY_BYTES defaults to 256 KiB and takes 64 KiB (a fitted message\'s fixed fields at the contract\'s limits) to 64 MiB only', () => {
  assert.is(loadConfig({}).webhookMaxBodyBytes, 262_144);
  assert.is(loadConfig({ WEBHOOK_MAX_BODY_BYTES: '65536' }).webhookMaxBodyBytes, 65_536);
  assert.is(loadConfig({ WEBHOOK_MAX_BODY_BYTES: '67108864' }).webhookMaxBodyBytes, 67_108_864);
  for (const bad of ['65535', '67108865', '0', '1e6', '256k']) assert.equal(problemsOf({ WEBHOOK_MAX_BODY_BYTES: bad }), ['WEBHOOK_MAX_BODY_BYTES'], bad);
});

test('TRUSTED_PROXIES: loopback by default, used only with TLS_ENABLED, each entry checked', () => {
  assert.is(loadConfig({}).trustedProxies, false, 'no TLS: no forwarded header is believed');
  assert.equal(loadConfig({ TLS_ENABLED: 'true' }).trustedProxies, ['loopback']);
  assert.equal(loadConfig({ TLS_ENABLED: 'true', TRUSTED_PROXIES: ' 10.0.0.5, 172.16.0.0/12 ,fd00::/8,uniquelocal' }).trustedProxies, ['10.0.0.5', '172.16.0.0/12', 'fd00::/8', 'uniquelocal']);
  for (const bad of ['proxy.example', '10.0.0.0/33', '10.0.0.1/8/1', '*', '::1/129', '0.0.0.0/0', '::/0']) {
    assert.throws(() => loadConfig({ TLS_ENABLED: 'true', TRUSTED_PROXIES: bad }), (err: Error) => err.message.includes('TRUSTED_PROXIES') && err.message.includes(`"${bad}"`), bad);
  }
});

test('docs/configuration.md documents every variable in its table', () => {
  const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  for (const v of CONFIG_VARIABLES) assert.match(doc, `| \`${v}\` |`, `${v} missing from the table in docs/configuration.md`);
});

test('.env.example lists every variable', () => {
  const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
  for (const v of CONFIG_VARIABLES) assert.match(example, new RegExp(`^#?\\s*${v}=`, 'm'), `${v} missing from .env.example`);
});

test('S3_*: defaults point at the local stand-in; endpoint parsed into host, port and TLS', () => {
  const d = loadConfig({}).storage;
  assert.equal({ ...d }, { endPoint: '127.0.0.1', port: 9000, useSSL: false, region: 'us-east-1', accessKey: 'S3RVER', secretKey: 'S3RVER', bucket: 'bulwark', backupBucket: 'bulwark-backups', endpointUrl: 'http://127.0.0.1:9000' });
  assert.ok(Object.isFrozen(d));
  const tls = loadConfig({ S3_ENDPOINT: 'https://minio.internal', S3_BUCKET: 'data-1', S3_BACKUP_BUCKET: 'backups-1' }).storage;
  assert.equal([tls.endPoint, tls.port, tls.useSSL, tls.bucket, tls.backupBucket], ['minio.internal', 443, true, 'data-1', 'backups-1']);
  assert.equal([loadConfig({ S3_ENDPOINT: 'http://[::1]:9100/' }).storage.endPoint, loadConfig({ S3_ENDPOINT: 'http://minio' }).storage.port], ['::1', 80]);
});

test('S3_*: bad endpoints, regions and bucket names are refused by name; the buckets must differ', () => {
  for (const bad of ['minio:9000', 'ftp://minio', 'http://minio/path', 'http://user:pw@minio:9000', 'http://minio?x=1']) assert.equal(problemsOf({ S3_ENDPOINT: bad }), ['S3_ENDPOINT'], bad);
  assert.equal(problemsOf({ S3_REGION: 'US East' }), ['S3_REGION']);
  for (const bad of ['ab', 'Upper', 'has_underscore', 'dotted.name', '-dash', 'x'.repeat(64)]) assert.equal(problemsOf({ S3_BUCKET: bad }), ['S3_BUCKET'], bad);
  assert.equal(problemsOf({ S3_BACKUP_BUCKET: 'bulwark' }), ['S3_BACKUP_BUCKET']);
});

test('S3_*: live refuses the stand-in key pair, each key by name, and never echoes the secret', () => {
  assert.equal(problemsOf({ BULWARK_ENV: 'live' }), ['S3_ACCESS_KEY', 'S3_SECRET_KEY']);
  assert.equal(problemsOf({ BULWARK_ENV: 'live', S3_ACCESS_KEY: 'S3RVER', S3_SECRET_KEY: 'live-secret-value' }), ['S3_ACCESS_KEY']);
  assert.equal(problemsOf({ BULWARK_ENV: 'live', S3_ACCESS_KEY: 'bulwark-live' }), ['S3_SECRET_KEY']);
  assert.is(loadConfig({ BULWARK_ENV: 'staging' }).storage.accessKey, 'S3RVER', 'only live refuses it');
  const secret = 'Sup3r-s3cr3t-minio-key';
  let message = '';
  try {
    loadConfig({ BULWARK_ENV: 'live', S3_ACCESS_KEY: 'S3RVER', S3_SECRET_KEY: secret, S3_ENDPOINT: `http://x:${secret}@minio` });
  } catch (err) {
    message = (err as Error).message;
  }
  assert.match(message, 'S3_ACCESS_KEY');
  assert.match(message, 'S3_ENDPOINT');
  assert.not.match(message, secret);
  assert.is(loadConfig(LIVE_S3 as Record<string, string>).storage.secretKey, LIVE_S3.S3_SECRET_KEY);
});

test.run();
