/**
 * A PgBouncer of the test's own, in transaction pooling mode, in front of the test
 * Postgres (ADMIN_URL's server): its pgbouncer.ini and user list are written to a temp
 * directory and it runs in the foreground on a free port, with every database of the
 * server behind it (`* = host=… port=…`). Debian's pgbouncer (scripts/system-deps.sh
 * installs it); pgbouncerBinary() is undefined when it is not installed, and the files
 * that need it then skip saying so.
 *
 * The ini is the one docs/going-to-production.md#pgbouncer recommends, less TLS and
 * passwords: pool_mode = transaction, no ignore_startup_parameters (Bulwark sends none
 * PgBouncer refuses), and the idle-in-transaction guard set on each server session.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ADMIN_URL } from './db.js';
import { waitFor } from './env.js';

/** The pgbouncer executable (Debian puts it in /usr/sbin), or undefined when not installed. */
export function pgbouncerBinary(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v pgbouncer'], { encoding: 'utf8' }).stdout.trim();
  if (found) return found;
  return existsSync('/usr/sbin/pgbouncer') ? '/usr/sbin/pgbouncer' : undefined;
}

/** Why a PgBouncer test cannot run here, or undefined when it can. */
export function pgbouncerMissing(): string | undefined {
  return pgbouncerBinary()
    ? undefined
    : 'pgbouncer is not installed (Debian package pgbouncer; scripts/system-deps.sh installs it): PgBouncer tests skipped';
}

export interface OwnPgBouncer {
  port: number;
  /** A URL of `database` through this PgBouncer (same user as ADMIN_URL). */
  url(database: string): string;
  /** A query on PgBouncer's admin console (SHOW POOLS, SHOW STATS …). */
  show(what: string): Promise<Array<Record<string, unknown>>>;
  /** Everything PgBouncer logged (stderr). */
  log(): string;
  stop(): Promise<void>;
}

export interface PgBouncerOptions {
  /** Server connections per database and user (default_pool_size). Default: 2. */
  poolSize?: number;
  maxClientConn?: number;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startPgBouncer(options: PgBouncerOptions = {}): Promise<OwnPgBouncer> {
  const bin = pgbouncerBinary();
  if (!bin) throw new Error(pgbouncerMissing());
  const server = new URL(ADMIN_URL);
  const user = decodeURIComponent(server.username || 'postgres');
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-pgbouncer-'));
  const ini = join(dir, 'pgbouncer.ini');
  const users = join(dir, 'userlist.txt');
  await writeFile(
    ini,
    [
      '[databases]',
      // Every database of the server; each server session gets the idle-in-transaction
      // guard Bulwark's pool sets itself when it connects direct.
      `* = host=${server.hostname} port=${server.port || 5432} connect_query='SET idle_in_transaction_session_timeout = 30000'`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${users}`,
      `admin_users = ${user}`,
      'pool_mode = transaction',
      `default_pool_size = ${options.poolSize ?? 2}`,
      `max_client_conn = ${options.maxClientConn ?? 200}`,
      'server_reset_query =',
      'idle_transaction_timeout = 60',
      // A client may wait this long for a server connection (PgBouncer's default): on a
      // loaded machine 2 server connections can keep a client waiting a while.
      'query_wait_timeout = 120',
      'log_connections = 0',
      'log_disconnections = 0',
      '',
    ].join('\n'),
  );
  await writeFile(users, `"${user}" ""\n`);
  // PgBouncer refuses to run as root: as root (CI) it switches to the postgres user, who must read the files.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    await chmod(dir, 0o755);
    await chmod(ini, 0o644);
    await chmod(users, 0o644);
  }
  let stderr = '';
  const child: ChildProcess = spawn(bin, [...(asRoot ? ['-u', 'postgres'] : []), ini], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (stderr += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const url = (database: string) => {
    const u = new URL(ADMIN_URL);
    u.port = String(port);
    u.pathname = `/${database}`;
    return u.toString();
  };
  async function query(database: string, sql: string): Promise<Array<Record<string, unknown>>> {
    const client = new pg.Client({ connectionString: url(database), connectionTimeoutMillis: 2000 });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return (await client.query(sql)).rows as Array<Record<string, unknown>>;
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`pgbouncer exited (code ${child.exitCode}): ${stderr}`);
        return query('postgres', 'SELECT 1 AS ok').then(
          () => true,
          () => false,
        );
      },
      `pgbouncer on port ${port}`,
      15_000,
      100,
    );
  } catch (err) {
    kill();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    url,
    // The admin console answers only the simple query protocol, which a query without parameters uses.
    show: (what) => query('pgbouncer', `SHOW ${what}`),
    log: () => stderr,
    async stop() {
      process.removeListener('exit', kill);
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(kill, 5000);
        await gone;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
