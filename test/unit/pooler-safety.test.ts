// Behind PgBouncer in transaction pooling mode each transaction gets whichever server
// session is free (docs/going-to-production.md#pgbouncer). This reads the sources for
// what keeps state in a session: session advisory locks, LISTEN/NOTIFY, session-level
// SET, named prepared statements, temporary tables. Each is allowed only in a file that
// runs on a direct connection (DIRECT_DATABASE_URL), listed here with the reason; an
// entry that no longer matches fails too, so the list stays true.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SOURCE_DIRS = ['lib', 'producers', 'api', 'workers', 'app', 'cli'];

const PATTERNS: Record<string, RegExp> = {
  'session advisory lock': /pg_(try_)?advisory_(un)?lock(_shared)?\s*\(/i,
  'LISTEN/NOTIFY': /['"`]\s*(LISTEN|UNLISTEN|NOTIFY)\s|pg_notify\s*\(/i,
  // A statement starting with SET, other than SET LOCAL / SET TRANSACTION (which end with their transaction).
  'session SET': /['"`](?:BEGIN;\s*)?SET\s+(?!LOCAL\b|TRANSACTION\b|CONSTRAINTS\b)[a-z_]+\s*(=|TO\b)/i,
  'set_config for the session': /set_config\s*\([^)]*,\s*false\s*\)/i,
  'named prepared statement': /statementNameGenerator|\bquery\(\s*\{\s*name\s*:/,
  'temporary table': /CREATE\s+(TEMP|TEMPORARY)\s+TABLE/i,
};

/** Files that run on a direct connection to Postgres, and what each pattern there is. */
const DIRECT_ONLY: Record<string, string[]> = {
  // `bulwark migrate`: a direct connection (requireDirect refuses a pooler).
  'lib/db/migrations.ts': ['session advisory lock'],
  // The backup's exported snapshot: direct (requireDirect), pg_dump works in the same snapshot.
  'lib/backup/snapshot.ts': ['session SET'],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const found = new Map<string, string[]>();
for (const d of SOURCE_DIRS)
  for (const f of files(join(ROOT, d))) {
    const text = readFileSync(f, 'utf8')
      // Comments say what not to do; only code counts.
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '');
    const hits = Object.entries(PATTERNS)
      .filter(([, re]) => re.test(text))
      .map(([name]) => name);
    if (hits.length > 0) found.set(relative(ROOT, f), hits);
  }

test('the patterns find what they are for', () => {
  const finds = (name: string, code: string) => PATTERNS[name]!.test(code);
  assert.ok(finds('session advisory lock', "client.query('SELECT pg_try_advisory_lock($1)', [k])"));
  assert.not.ok(finds('session advisory lock', "client.query('SELECT pg_try_advisory_xact_lock($1)', [k])"));
  assert.ok(finds('LISTEN/NOTIFY', 'client.query(`LISTEN jobs`)'));
  assert.ok(finds('session SET', "client.query('SET statement_timeout = 0')"));
  assert.ok(finds('session SET', 'client.query(`BEGIN; SET search_path TO x`)'));
  assert.not.ok(finds('session SET', 'client.query(`BEGIN; SET LOCAL statement_timeout = ${ms}`)'));
  assert.not.ok(finds('session SET', '`UPDATE secrets AS s SET encrypted_value = u.token`'));
  assert.ok(finds('named prepared statement', "pool.query({ name: 'q1', text: 'SELECT 1' })"));
  assert.ok(finds('temporary table', 'CREATE TEMP TABLE x (id int)'));
});

test('session state is used only on direct connections', () => {
  const offending = [...found].filter(([file, hits]) => !hits.every((h) => (DIRECT_ONLY[file] ?? []).includes(h)));
  assert.equal(offending, [], 'session state on a pooled path (or add the file to DIRECT_ONLY, with why it is direct)');
});

test('every direct-only entry still matches (the list stays true)', () => {
  for (const [file, hits] of Object.entries(DIRECT_ONLY)) assert.equal(found.get(file), hits, file);
});

test.run();
