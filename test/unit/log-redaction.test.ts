// Secrets pushed through the logging code never reach the output: nested fields by
// name, errors carrying connection URLs, messages quoting URLs, and config errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import { redactSecrets, REDACTED } from '../../lib/redact.js';
import { captureLogs } from '../helpers/env.js';

const SECRETS = ['pw-Alpha-1', 'tok-Bravo-2', 'key-Charlie-3', 'Bearer Delta-4', 'sess=Echo-5', 'pgpass-Foxtrot-6', 'redispass-Golf-7'];

test('log lines carry service, env, an ISO UTC time and correlation ids', () => {
  const logs = captureLogs();
  const log = createLogger({ env: 'staging', logLevel: 'info' }, logs.stream).child({ tenant_id: 't-1', request_id: 'r-1', job_id: 'j-1', queue: 'audit-write' });
  log.info({ event: 'x' }, 'hello');
  log.flush();
  const [line] = logs.events();
  assert.is(line!.service, 'bulwark');
  assert.is(line!.env, 'staging');
  assert.match(String(line!.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal([line!.tenant_id, line!.request_id, line!.job_id, line!.queue], ['t-1', 'r-1', 'j-1', 'audit-write']);
});

test('no secret value appears in log output, whatever path it takes', async () => {
  const logs = captureLogs();
  const log = createLogger({ env: 'dev', logLevel: 'trace' }, logs.stream);
  log.info({ user: { password: SECRETS[0], profile: { accessToken: SECRETS[1] } }, headers: { authorization: SECRETS[3], Cookie: SECRETS[4] } }, 'nested fields');
  log.info({ list: [{ apiKey: SECRETS[2] }, { api_key: SECRETS[2] }], client_secret: SECRETS[1] }, 'arrays');
  log.error({ err: new Error(`connect failed for postgresql://bulwark:${SECRETS[5]}@db:5432/x`) }, 'error with a URL');
  log.warn(`retrying redis://:${SECRETS[6]}@cache:6379/0`);
  log.child({ session_id: SECRETS[4], secret: SECRETS[0] }).info('child bindings');
  try {
    loadConfig({ DATABASE_URL: `mysql://u:${SECRETS[5]}@h/x`, REDIS_URL: `http://:${SECRETS[6]}@r`, METRICS_TOKEN: 'short' });
  } catch (err) {
    log.error({ err }, 'config failed');
  }
  log.flush();
  await new Promise((r) => setTimeout(r, 20));
  const text = logs.text();
  assert.ok(logs.lines.length >= 6, 'every line was written');
  for (const s of SECRETS) assert.not.match(text, s, `secret ${s} leaked`);
  assert.match(text, REDACTED);
});

test('redaction keeps ordinary fields that merely look similar', () => {
  const out = redactSecrets({ passenger: 'Ann', bypass: true, tokens_used: 3, password: 'x', nested: { Authorization: 'y', note: 'z' } });
  assert.equal(out, { passenger: 'Ann', bypass: true, tokens_used: REDACTED, password: REDACTED, nested: { Authorization: REDACTED, note: 'z' } });
});

test.run();
