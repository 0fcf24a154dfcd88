// docker-compose.yml as the issues ask: Postgres behind PgBouncer (transaction pooling),
// Redis, MinIO, and Bulwark split by role (a one-shot migrate, api, worker, scheduler,
// one image and one environment); Redis with AOF on and maxmemory-policy noeviction
// (BullMQ needs both); a healthcheck and TZ=UTC on every service; Bulwark waits for
// healthy PgBouncer and Redis and a finished migrate, which goes direct to Postgres;
// no secret has a default; only the API publishes, on loopback; every service has time
// for a graceful shutdown. Read with test/helpers/yaml-subset.ts (the project has no
// YAML parser dependency).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { CONFIG_VARIABLES, SECRET_VARIABLES, loadConfig } from '../../lib/config.js';
import { parseYamlSubset, type YamlValue } from '../helpers/yaml-subset.js';

type Map = { [key: string]: YamlValue };
const isMap = (v: YamlValue | undefined): v is Map => typeof v === 'object' && v !== null && !Array.isArray(v);
function map(v: YamlValue | undefined, what: string): Map {
  if (!isMap(v)) throw new Error(`${what} is not a mapping: ${JSON.stringify(v)}`);
  return v;
}
function list(v: YamlValue | undefined, what: string): string[] {
  if (typeof v === 'string') return v.split(/\s+/).filter(Boolean);
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string'))
    throw new Error(`${what} is not a list of strings: ${JSON.stringify(v)}`);
  return v;
}
/** A service's environment as name → value, from either compose form (mapping or KEY=value list). */
function environment(service: Map, what: string): Record<string, string | null> {
  const env = service.environment;
  if (Array.isArray(env))
    return Object.fromEntries(list(env, what).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  return Object.fromEntries(
    Object.entries(map(env, what)).map(([k, v]) => [k, typeof v === 'string' || v === null ? v : JSON.stringify(v)]),
  );
}
/** Compose durations like 30s, 1m30s, 500ms, in milliseconds. */
function durationMs(v: YamlValue | undefined): number {
  const text = String(v);
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) throw new Error(`not a duration: ${text}`);
  return parts.reduce(
    (ms, [, n, unit]) => ms + Number(n) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h'],
    0,
  );
}

const compose = map(
  parseYamlSubset(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8')),
  'the file',
);
const services = map(compose.services, 'services');
const service = (name: string) => map(services[name], `service ${name}`);

test('the subset reader fails loudly outside its subset', () => {
  assert.equal(parseYamlSubset('a:\n  b: "x # y" # note\n  c:\n  - 1\n  - \'it\'\'s\'\nd: [\"p\", \"q\"]\n'), {
    a: { b: 'x # y', c: ['1', "it's"] },
    d: ['p', 'q'],
  });
  // Anchors on mappings, aliases and merges (the mapping's own keys win).
  assert.equal(parseYamlSubset('t: &t\n  a: 1\n  b: 2\nu:\n  <<: *t\n  b: 3\nv: *t\n'), {
    t: { a: '1', b: '2' },
    u: { b: '3', a: '1' },
    v: { a: '1', b: '2' },
  });
  for (const bad of [
    'a: &anchor x',
    'a: *ref',
    'a: 1\nb:\n  <<: *a',
    'a: |\n  text',
    'a: {b: c}',
    'a:\n\tb: c',
    'a: x\n  b: y',
    'a: 1\na: 2',
    '- k: v',
  ]) {
    assert.throws(() => parseYamlSubset(bad), /line \d+/, JSON.stringify(bad));
  }
});

const BULWARK = ['migrate', 'api', 'worker', 'scheduler'];

test('Postgres 15, PgBouncer, Redis 7, MinIO and Bulwark by role (one image, built here) are the services', () => {
  assert.equal(Object.keys(services).sort(), [
    'api',
    'migrate',
    'minio',
    'pgbouncer',
    'postgres',
    'redis',
    'scheduler',
    'worker',
  ]);
  assert.match(String(service('postgres').image), /^postgres:15(\b|$)/);
  assert.match(String(service('pgbouncer').image), /pgbouncer(:|$)/);
  assert.match(String(service('redis').image), /^redis:7(\b|$)/);
  assert.match(String(service('minio').image), /^minio\/minio(:|$)/);
  for (const name of BULWARK) {
    assert.is(service(name).build, '.', name);
    assert.is(service(name).image, 'bulwark:local', name);
  }
});

test('each Bulwark service runs its role; migrate runs once and the others wait for it', () => {
  assert.equal(list(service('migrate').command, 'migrate command'), ['node', 'bin/bulwark.js', 'migrate']);
  assert.is(service('migrate').restart, 'no');
  for (const role of ['api', 'worker', 'scheduler']) {
    assert.equal(list(service(role).command, `${role} command`), ['node', 'bin/bulwark.js', 'start', '--role', role]);
    const deps = map(service(role).depends_on, `${role} depends_on`);
    assert.is(map(deps.migrate, 'depends_on migrate').condition, 'service_completed_successfully');
  }
  // Workers and schedulers scale (`--scale worker=N`): nothing of theirs is published or named.
  for (const role of ['worker', 'scheduler']) {
    assert.is(service(role).ports, undefined, `${role} publishes a port (it could not scale)`);
    assert.is(service(role).container_name, undefined, `${role} has a fixed container name (it could not scale)`);
  }
});

test('PgBouncer pools in transaction mode in front of Postgres; migrations and backups go direct', () => {
  const pgb = environment(service('pgbouncer'), 'pgbouncer environment');
  assert.is(pgb.POOL_MODE, 'transaction');
  assert.is(pgb.DB_HOST, 'postgres');
  assert.is(pgb.DB_PASSWORD, '${POSTGRES_PASSWORD:-bulwark-dev-only}');
  const env = environment(service('api'), 'api environment');
  assert.match(String(env.DATABASE_URL), new RegExp(`@pgbouncer:${pgb.LISTEN_PORT}/bulwark$`));
  assert.is(env.DATABASE_POOLER, 'pgbouncer');
  assert.match(String(env.DIRECT_DATABASE_URL), /@postgres:5432\/bulwark$/);
  assert.is(map(map(service('migrate').depends_on, 'migrate').postgres, 'postgres').condition, 'service_healthy');
  const config = loadConfig({
    DATABASE_URL: String(env.DATABASE_URL).replace('${POSTGRES_PASSWORD:-bulwark-dev-only}', 'pw'),
    DATABASE_POOLER: String(env.DATABASE_POOLER),
    DIRECT_DATABASE_URL: String(env.DIRECT_DATABASE_URL).replace('${POSTGRES_PASSWORD:-bulwark-dev-only}', 'pw'),
  });
  assert.is(config.databasePooler, 'pgbouncer');
});

test('Redis keeps jobs: AOF on and maxmemory-policy noeviction', () => {
  const command = list(service('redis').command, 'redis command');
  assert.is(command[0], 'redis-server');
  const option = (name: string) => command[command.indexOf(name) + 1];
  assert.ok(command.includes('--appendonly'), command.join(' '));
  assert.is(option('--appendonly'), 'yes');
  assert.ok(command.includes('--maxmemory-policy'), command.join(' '));
  assert.is(option('--maxmemory-policy'), 'noeviction');
  // Data on a volume, or AOF survives nothing.
  assert.ok(list(service('redis').volumes, 'redis volumes').some((v) => v.endsWith(':/data')));
});

test('every service has a healthcheck that runs a command, and TZ=UTC', () => {
  for (const name of Object.keys(services)) {
    const check = map(service(name).healthcheck, `${name} healthcheck`);
    assert.not.ok(check.disable === 'true', `${name} healthcheck disabled`);
    const cmd = list(check.test, `${name} healthcheck test`);
    assert.ok(['CMD', 'CMD-SHELL'].includes(cmd[0]!) && cmd.length >= 2, `${name}: ${cmd.join(' ')}`);
    for (const field of ['interval', 'timeout'])
      assert.ok(durationMs(check[field]) > 0, `${name} healthcheck ${field}`);
    assert.ok(Number(check.retries) >= 1, `${name} healthcheck retries`);
    assert.is(environment(service(name), `${name} environment`).TZ, 'UTC', `${name} TZ`);
  }
});

test('Bulwark waits for healthy PgBouncer and Redis, has no secret defaults, publishes on loopback only', () => {
  const bulwark = service('api');
  const deps = map(bulwark.depends_on, 'api depends_on');
  for (const dep of ['pgbouncer', 'redis']) assert.is(map(deps[dep], `depends_on ${dep}`).condition, 'service_healthy');
  for (const name of BULWARK) {
    const env = environment(service(name), `${name} environment`);
    for (const v of SECRET_VARIABLES)
      assert.is(env[v], `\${${v}:-}`, `${name}: ${v} must come from .env or the shell, with no default`);
    assert.is(env.REDIS_URL, 'redis://redis:6379');
  }
  assert.equal(list(service('api').ports, 'api ports'), ['127.0.0.1:8080:8080']);
  for (const name of Object.keys(services)) {
    const ports = service(name).ports;
    for (const port of ports === undefined ? [] : list(ports, `${name} ports`)) {
      assert.ok(port.startsWith('127.0.0.1:'), `${name} publishes ${port} beyond loopback`);
    }
  }
  // Docker's stop grace covers the shutdown bound, or running jobs are killed mid-way.
  const defaults = loadConfig({});
  for (const name of BULWARK)
    assert.ok(
      durationMs(service(name).stop_grace_period) > defaults.shutdownDrainMs + defaults.shutdownTimeoutMs,
      `${name}: ${String(service(name).stop_grace_period)}`,
    );
});

test('every configuration variable reaches every Bulwark container (from the shell or .env), none fixed that a user needs to set', () => {
  for (const name of BULWARK) {
    const env = environment(service(name), `${name} environment`);
    const missing = CONFIG_VARIABLES.filter((v) => !(v in env));
    assert.equal(missing, [], `${name}: variables .env could not set in the container`);
    // Fixed by compose because they describe the compose network itself.
    const fixed = CONFIG_VARIABLES.filter((v) => !String(env[v]).includes(`\${${v}`));
    assert.equal(
      fixed.sort(),
      ['DATABASE_POOLER', 'DATABASE_URL', 'DIRECT_DATABASE_URL', 'HOST', 'PORT', 'REDIS_URL'],
      name,
    );
  }
});

test('MinIO is on the compose network only (never published) and Bulwark signs with its credentials', () => {
  const minio = service('minio');
  assert.is(minio.ports, undefined, 'MinIO publishes no port');
  const env = environment(service('api'), 'api environment');
  assert.is(env.S3_ENDPOINT, '${S3_ENDPOINT:-http://minio:9000}');
  const minioEnv = environment(minio, 'minio environment');
  assert.is(minioEnv.MINIO_ROOT_USER, env.S3_ACCESS_KEY, 'MinIO and Bulwark agree on the access key');
  assert.is(minioEnv.MINIO_ROOT_PASSWORD, '${S3_SECRET_KEY:-}', 'no default password for MinIO either');
});

test.run();
