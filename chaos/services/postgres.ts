/**
 * A private Postgres 15 for fault injection and tests that must stop or break the
 * database: `initdb` into a temporary folder, its own port, trust auth on 127.0.0.1
 * and its own socket folder. Never the machine's shared cluster on 5432. Postgres
 * refuses to run as root, so when we are root its commands run as `postgres`
 * (`runuser -u postgres --`) on a folder that user owns.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, run } from './process.js';

/** Where Debian puts the server binaries; PG_BIN overrides. */
const BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface PrivatePostgres {
  port: number;
  dir: string;
  /** A connection string to `database` as the superuser `postgres`. */
  url(database: string): string;
  /** `pg_ctl stop` (`fast`: roll back and disconnect every session; `immediate`: no shutdown checkpoint, like a crash). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** `pg_ctl start`, resolving once it accepts connections. */
  start(): Promise<void>;
  /** `pg_terminate_backend` every other session on `database`; resolves to how many. */
  terminate(database: string): Promise<number>;
  /** Stop it (immediately) and remove its folder. */
  destroy(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const root = process.getuid?.() === 0;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-pg-'));
  if (root) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const asPostgres = (cmd: string, args: string[]) =>
    root ? run('runuser', ['-u', 'postgres', '--', join(BIN, cmd), ...args]) : run(join(BIN, cmd), args);
  await asPostgres('initdb', [
    '-D',
    data,
    '-U',
    'postgres',
    '-A',
    'trust',
    '-E',
    'UTF8',
    '--locale=C.UTF-8',
    '--no-sync',
  ]);
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c max_connections=200 -c shared_buffers=64MB`;
  const start = async () =>
    void (await asPostgres('pg_ctl', [
      '-D',
      data,
      '-l',
      join(dir, 'postgres.log'),
      '-o',
      options,
      '-w',
      '-t',
      '60',
      'start',
    ]));
  await start();
  const url = (database: string) => `postgresql://postgres@127.0.0.1:${port}/${database}`;
  return {
    port,
    dir,
    url,
    stop: async (mode = 'fast') =>
      void (await asPostgres('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '60', 'stop'])),
    start,
    async terminate(database) {
      const client = new pg.Client({ connectionString: url('postgres') });
      await client.connect();
      try {
        const { rowCount } = await client.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [database],
        );
        return rowCount ?? 0;
      } finally {
        await client.end();
      }
    },
    async destroy() {
      await asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
