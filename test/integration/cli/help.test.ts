// `bulwark --help`, `bulwark <group> --help` and `bulwark <group> <command> --help`:
// usage on stdout and exit 0 at every level; a group without its command is a usage
// error naming the group's commands. Help needs no configuration and no database.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandNames } from '../../../cli/main.js';
import { runBin, runCli } from '../../helpers/cli.js';

// A configuration that cannot load: help must not need one.
const run = (args: string[]) => runCli(args, { DATABASE_URL: 'mysql://nowhere/x' });

test('bulwark --help, -h, help and no arguments print the whole usage', async () => {
  for (const args of [['--help'], ['-h'], ['help'], []]) {
    const r = await run(args);
    assert.is(r.code, 0, args.join(' '));
    assert.match(r.out, /^Usage: bulwark <command> \[options\]/);
    assert.match(r.out, 'apikey create --tenant ID');
    assert.match(r.out, 'tenant list');
    assert.match(r.out, 'Exit codes: 0 success; 1');
    assert.is(r.err, '');
  }
});

test('<group> --help lists that group only, at every group', async () => {
  const groups = new Set(
    (await commandNames()).flatMap((name) => {
      const words = name.split(' ');
      return words.slice(0, -1).map((_, i) => words.slice(0, i + 1).join(' '));
    }),
  );
  assert.ok(groups.has('apikey') && groups.has('tenant settings'), [...groups].join(','));
  for (const group of groups) {
    for (const args of [
      [...group.split(' '), '--help'],
      ['help', ...group.split(' ')],
    ]) {
      const r = await run(args);
      assert.is(r.code, 0, `${args.join(' ')}: ${r.err}`);
      assert.match(r.out, `Usage: bulwark ${group} <command> [options]`);
      const listed = r.out
        .split('\n')
        .filter((l) => /^ {2}\S/.test(l))
        .map((l) => l.trim());
      assert.ok(listed.length > 0);
      for (const l of listed)
        assert.ok(l.startsWith(`${group} `), `${group} --help lists only its own commands, not: ${l}`);
    }
  }
  const apikey = await run(['apikey', '--help']);
  for (const sub of ['create', 'list', 'revoke', 'rotate']) assert.match(apikey.out, `apikey ${sub} --tenant ID`);
});

test('<group> <command> --help prints that command, even among other flags', async () => {
  const r = await run(['apikey', 'create', '--help']);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^Usage: bulwark apikey create --tenant ID --name N --scopes S \[--expires-days D\]\n/);
  assert.not.match(r.out, 'apikey list');
  const withFlags = await run(['tenant', 'settings', 'set', '--tenant', 'not-a-uuid', 'a=b', '-h']);
  assert.is(withFlags.code, 0, 'help wins over flags that would be a usage error');
  assert.match(withFlags.out, /^Usage: bulwark tenant settings set --tenant ID KEY=VALUE\.\.\./);
  assert.equal((await run(['help', 'migrate'])).out, (await run(['migrate', '--help'])).out);
});

test('every command has its usage, in the whole usage too; docs/cli.md names each', async () => {
  const names = await commandNames();
  assert.ok(names.length >= 19, names.join(', '));
  const whole = (await run(['--help'])).out;
  const reference = readFileSync(new URL('../../../docs/cli.md', import.meta.url), 'utf8');
  for (const name of names) {
    const r = await run([...name.split(' '), '--help']);
    assert.is(r.code, 0, `${name}: ${r.err}`);
    assert.match(r.out, `Usage: bulwark ${name}`);
    assert.match(whole, `\n  ${name}`, `bulwark --help lists ${name}`);
    assert.match(reference, `\`${name}`, `docs/cli.md lacks ${name}`);
  }
  assert.match(reference, '`help', 'docs/cli.md names help');
});

test('every command is declared once and listed once in the whole usage', async () => {
  const names = await commandNames();
  const twice = names.filter((n, i) => names.indexOf(n) !== i);
  assert.equal(twice, [], 'commands declared more than once (a group listed twice in cli/commands/index.ts?)');
  const lines = (await run(['--help'])).out.split('\n');
  for (const name of names) {
    const listed = lines.filter((l) => l.startsWith(`  ${name} `) || l === `  ${name}`).length;
    assert.is(listed, 1, `bulwark --help lists ${name} ${listed} times`);
  }
});

test('a group without its command, or an unknown one, exits 2 naming the commands it has', async () => {
  const bare = await run(['apikey']);
  assert.is(bare.code, 2);
  assert.match(bare.err, '"apikey" needs a command: create, list, revoke, rotate');
  assert.match(bare.err, 'Run "bulwark apikey --help" for usage.');
  const nested = await run(['tenant', 'settings']);
  assert.is(nested.code, 2);
  assert.match(nested.err, '"tenant settings" needs a command: get, set');
  for (const args of [
    ['apikey', 'frob'],
    ['apikey', 'frob', '--help'],
  ]) {
    const r = await run(args);
    assert.is(r.code, 2, args.join(' '));
    assert.match(r.err, 'unknown command "apikey frob" ("apikey" has: create, list, revoke, rotate)');
    assert.is(r.out, '');
  }
  const unknown = await run(['frobnicate', '--help']);
  assert.is(unknown.code, 2);
  assert.match(unknown.err, 'unknown command "frobnicate"');
  const flagError = await run(['apikey', 'create', '--name', 'x', '--scopes', 'admin']);
  assert.is(flagError.code, 2);
  assert.match(flagError.err, '--tenant is required');
  assert.match(flagError.err, 'Run "bulwark apikey create --help" for usage.');
});

test('a wrong flag is reported as a usage error (exit 2) even when the configuration is bad too', async () => {
  for (const args of [
    ['apikey', 'list'],
    ['secret', 'list', '--tenant', 'nope'],
    ['channel', 'list', '--bogus', 'x'],
    ['tenant', 'settings', 'get'],
    ['audit', 'verify', '--tenant'],
    ['keys', 'rotate-master', '--batch-size', 'lots'],
  ]) {
    const r = await run(args);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.not.match(r.err, 'DATABASE_URL', `${args.join(' ')} names the flag, not the configuration`);
  }
});

test('the installed bin prints group help and exits 0', () => {
  const r = runBin(['apikey', '--help']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, 'Usage: bulwark apikey <command> [options]');
});

/** The modules `node bin/bulwark.js …args` loaded, as URLs. */
function importsOf(args: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-imports-'));
  try {
    const file = join(dir, 'imports.txt');
    const r = spawnSync(
      process.execPath,
      ['--import', './test/helpers/record-imports.mjs', 'bin/bulwark.js', ...args],
      {
        env: { ...process.env, RECORD_IMPORTS_FILE: file, DATABASE_URL: 'mysql://nowhere/x' },
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    assert.ok(r.status !== null, `bulwark ${args.join(' ')} ended: ${r.stderr}`);
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const HEAVY = /\/node_modules\/(zod|@prisma|prisma|bullmq|ioredis|fastify|@bull-board|pg|pino|prom-client)\//;

test('help loads the command declarations only: no zod, Prisma, BullMQ, Redis, Fastify or logger', () => {
  for (const args of [['--help'], ['apikey', '--help'], ['keys', 'rotate-master', '--help']]) {
    const heavy = importsOf(args).filter((u) => HEAVY.test(u));
    assert.equal(heavy, [], `bulwark ${args.join(' ')} loaded ${heavy.slice(0, 3).join(', ')}`);
  }
  // The recorder sees a command's work: `keys generate` reads its flags (zod, for --tenant's check).
  const generate = importsOf(['keys', 'generate']);
  assert.ok(
    generate.some((u) => /\/node_modules\/zod\//.test(u)),
    'keys generate loads zod',
  );
  assert.ok(!generate.some((u) => /\/cli\/commands\/apikey\.js$/.test(u)), 'keys generate loads no other group');
});

test.run();
