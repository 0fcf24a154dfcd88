// createLogger: JSON lines with service, env and an ISO UTC time; child loggers carry
// correlation ids; secrets pushed through the logging code never reach the output.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';
import { createLogger, withContext } from '../../lib/logger.js';
import { REDACTED } from '../../lib/redact.js';
import { captureLogs } from '../helpers/env.js';

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** Let pino hand everything to the capturing stream. */
async function settle(log: { flush(): void }): Promise<void> {
  log.flush();
  await new Promise((r) => setImmediate(r));
}

test('every line has service, env, level and an ISO 8601 UTC time', async () => {
  for (const env of ['dev', 'staging', 'live'] as const) {
    const logs = captureLogs();
    const log = createLogger({ env, logLevel: 'info' }, logs.stream);
    log.info({ event: 'started' }, 'hello');
    log.warn('careful');
    await settle(log);
    const events = logs.events();
    assert.is(events.length, 2);
    for (const e of events) {
      assert.is(e.service, 'bulwark');
      assert.is(e.env, env);
      assert.match(String(e.time), ISO_UTC);
      assert.is(new Date(String(e.time)).toISOString(), e.time);
    }
    assert.equal([events[0]!.level, events[0]!.msg, events[0]!.event], ['info', 'hello', 'started']);
    assert.equal([events[1]!.level, events[1]!.msg], ['warn', 'careful']);
  }
});

test('the level filters lines', async () => {
  const logs = captureLogs();
  const log = createLogger({ env: 'dev', logLevel: 'warn' }, logs.stream);
  log.debug('no');
  log.info('no');
  log.warn('yes');
  log.error('yes');
  await settle(log);
  assert.equal(
    logs.events().map((e) => e.level),
    ['warn', 'error'],
  );
});

test('child loggers carry tenant_id, request_id, job_id and queue, at any depth', async () => {
  const logs = captureLogs();
  const root = createLogger({ env: 'dev', logLevel: 'info' }, logs.stream);
  const byTenant = withContext(root, { tenant_id: 'tenant-1', request_id: 'req-1' });
  const byJob = byTenant.child({ job_id: 'job-7', queue: 'audit-write' });
  byTenant.info('a');
  byJob.info({ extra: 1 }, 'b');
  root.info('c');
  await settle(root);
  const [a, b, c] = logs.events();
  assert.equal([a!.tenant_id, a!.request_id, a!.job_id, a!.queue], ['tenant-1', 'req-1', undefined, undefined]);
  assert.equal(
    [b!.tenant_id, b!.request_id, b!.job_id, b!.queue, b!.extra],
    ['tenant-1', 'req-1', 'job-7', 'audit-write', 1],
  );
  assert.equal([c!.tenant_id, c!.job_id], [undefined, undefined]);
  for (const e of [a, b, c]) assert.equal([e!.service, e!.env], ['bulwark', 'dev']);
});

// Every secret below is a distinct string that must never appear in any log line.
const S = {
  password: 'pw-Alpha-91f3',
  token: 'tok-Bravo-27aa',
  authorization: 'Bearer Charlie-5c0d',
  cookie: 'sid=Delta-8e11',
  apiKey: 'key-Echo-44b2',
  apiKeySnake: 'key-Foxtrot-0a9e',
  clientSecret: 'sec-Golf-6d3c',
  pgPassword: 'pgpass-Hotel-17fe',
  redisPassword: 'redispass-India-b2c4',
  configDbPassword: 'cfgpass-Juliet-9911',
  configRedisPassword: 'cfgredis-Lima-4c2e',
  childSecret: 'child-Kilo-3f70',
  childSession: 'sess-Mike-7b15',
};

test('no secret value appears in the output, whatever path it takes through the code', async () => {
  const logs = captureLogs();
  const log = createLogger({ env: 'dev', logLevel: 'trace' }, logs.stream);

  // Nested fields by name, in objects and arrays.
  log.info(
    {
      user: { id: 'u1', password: S.password, profile: { session: { accessToken: S.token } } },
      request: { headers: { authorization: S.authorization, Cookie: S.cookie, accept: 'application/json' } },
      integrations: [
        { name: 'crm', apiKey: S.apiKey },
        { name: 'mail', config: { api_key: S.apiKeySnake } },
      ],
      oauth: { client_secret: S.clientSecret },
    },
    'nested secret fields',
  );
  // An Error whose message and stack quote a Postgres URL with a password.
  const dbErr = new Error(`connect ECONNREFUSED postgresql://bulwark:${S.pgPassword}@db.internal:5432/bulwark`);
  log.error({ err: dbErr }, 'database unreachable');
  // A message string (and a format argument) quoting a Redis URL with a password.
  log.warn(`redis reconnecting to redis://:${S.redisPassword}@cache:6379/0`);
  log.warn('redis reconnecting to %s', `rediss://default:${S.redisPassword}@cache:6380`);
  // A ConfigError from loadConfig with a bad DATABASE_URL carrying a password.
  let configError: unknown;
  try {
    loadConfig({
      DATABASE_URL: `mysql://admin:${S.configDbPassword}@db/bulwark`,
      REDIS_URL: `http://:${S.configRedisPassword}@cache`,
    });
  } catch (err) {
    configError = err;
  }
  assert.instance(configError, ConfigError);
  log.fatal({ err: configError }, 'invalid configuration');
  log.fatal({ err: configError, env: { DATABASE_URL: `mysql://admin:${S.configDbPassword}@db/bulwark` } }, 'with env');
  // Child bindings carrying secrets, at two levels.
  log
    .child({ tenant_id: 't1', token: S.childSecret, session_id: S.childSession })
    .child({ job_id: 'j1', auth: { password: S.childSecret } })
    .info('child');
  await settle(log);

  const text = logs.text();
  assert.is(logs.lines.length, 7, 'every line was written');
  for (const [name, value] of Object.entries(S)) assert.not.match(text, value, `secret ${name} leaked`);

  // The lines are still useful: redacted markers and non-secret context survive.
  const events = logs.events();
  const first = events[0] as { user: { id: string; password: string }; request: { headers: Record<string, string> } };
  assert.is(first.user.id, 'u1');
  assert.is(first.user.password, REDACTED);
  assert.is(first.request.headers.accept, 'application/json');
  assert.is(first.request.headers.authorization, REDACTED);
  const err = events[1]!.err as { message: string };
  assert.match(err.message, `postgresql://bulwark:${REDACTED}@db.internal:5432/bulwark`);
  assert.match(String(events[2]!.msg), `redis://:${REDACTED}@cache:6379/0`);
  assert.match(String(events[3]!.msg), `rediss://default:${REDACTED}@cache:6380`);
  assert.match(JSON.stringify(events[4]), 'DATABASE_URL');
  const child = events[6]!;
  assert.equal([child.tenant_id, child.job_id, child.token, child.session_id], ['t1', 'j1', REDACTED, REDACTED]);
});

test('an Error logged alone, or an object interpolated with %o/%j, leaks nothing', async () => {
  const logs = captureLogs();
  const log = createLogger({ env: 'dev', logLevel: 'info' }, logs.stream);
  log.error(
    new Error('connect to postgresql://app:pa55@w0rd@db:5432/x failed', { cause: new Error('inner token=abc') }),
  );
  log.info('payload %o', { password: 'pa55@w0rd', nested: { apiKey: 'k-123456' } });
  log.info('payload %j', { secret: 'k-123456' });
  await settle(log);
  assert.not.match(logs.text(), /pa55|w0rd|k-123456/);
  const first = logs.events()[0] as Record<string, Record<string, unknown>>;
  assert.is(first.err!.type, 'Error');
  assert.ok(first.err!.cause, 'the cause is kept');
  assert.match(String(first.msg), /connect to postgresql:\/\/app:\[REDACTED\]@db/);
});

test.run();
