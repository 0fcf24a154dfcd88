// DATABASE_POOLER, DIRECT_DATABASE_URL and SCHEDULER_LEASE_MS: defaults, and the rules
// that keep what needs a session of its own off a pooler (lib/config-checks.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../lib/config.js';

const POOLED = 'postgresql://bulwark@pgbouncer:6432/bulwark';
const DIRECT = 'postgresql://bulwark@postgres:5432/bulwark';
const problems = (env: Record<string, string>): string => {
  try {
    loadConfig(env);
    return '';
  } catch (err) {
    return (err as Error).message;
  }
};

test('defaults: no pooler, the direct URL is DATABASE_URL, a 15 s scheduler lease', () => {
  const c = loadConfig({ DATABASE_URL: DIRECT });
  assert.is(c.databasePooler, 'none');
  assert.is(c.directDatabaseUrl, DIRECT);
  assert.is(c.schedulerLeaseMs, 15_000);
});

test('behind PgBouncer: DATABASE_URL for the pool, DIRECT_DATABASE_URL for the rest', () => {
  const c = loadConfig({ DATABASE_URL: POOLED, DATABASE_POOLER: 'pgbouncer', DIRECT_DATABASE_URL: DIRECT });
  assert.is(c.databaseUrl, POOLED);
  assert.is(c.directDatabaseUrl, DIRECT);
  assert.is(c.databasePooler, 'pgbouncer');
});

test('DATABASE_POOLER=pgbouncer needs DIRECT_DATABASE_URL, leading elsewhere than DATABASE_URL', () => {
  assert.match(
    problems({ DATABASE_URL: POOLED, DATABASE_POOLER: 'pgbouncer' }),
    /DIRECT_DATABASE_URL: is required with DATABASE_POOLER=pgbouncer/,
  );
  assert.match(
    problems({ DATABASE_URL: POOLED, DATABASE_POOLER: 'pgbouncer', DIRECT_DATABASE_URL: POOLED }),
    /DIRECT_DATABASE_URL: must lead to Postgres itself/,
  );
});

test("Prisma's pgbouncer=true flag without DATABASE_POOLER=pgbouncer is named, not ignored", () => {
  assert.match(
    problems({ DATABASE_URL: `${POOLED}?pgbouncer=true` }),
    /DATABASE_POOLER: must be pgbouncer when DATABASE_URL says pgbouncer=true/,
  );
  assert.is(
    problems({ DATABASE_URL: `${POOLED}?pgbouncer=true`, DATABASE_POOLER: 'pgbouncer', DIRECT_DATABASE_URL: DIRECT }),
    '',
  );
});

test('bad values are named, never echoed', () => {
  const message = problems({
    DATABASE_POOLER: 'pgpool',
    DIRECT_DATABASE_URL: 'mysql://u:hunter2@db/x',
    SCHEDULER_LEASE_MS: '500',
  });
  assert.match(message, /DATABASE_POOLER:/);
  assert.match(message, /DIRECT_DATABASE_URL: must be a URL starting with postgresql:\/\/ or postgres:\/\//);
  assert.match(message, /SCHEDULER_LEASE_MS: must be between 1000 and 600000/);
  assert.not.match(message, /hunter2/);
});

test.run();
