/**
 * Running pg_dump / pg_restore / psql against a database URL. The connection goes in
 * libpq's environment variables (PGHOST, PGPASSWORD, …), never on the command line,
 * where any local user could read a password in `ps`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { maskUrlCredentials } from '../redact.js';

/** libpq environment for a postgres:// URL. */
export function pgEnv(databaseUrl: string): Record<string, string> {
  const u = new URL(databaseUrl);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    PGHOST: decodeURIComponent(u.hostname.replace(/^\[|\]$/g, '')) || '127.0.0.1',
    PGPORT: u.port || '5432',
    PGDATABASE: decodeURIComponent(u.pathname.slice(1)),
    PGCONNECT_TIMEOUT: '10',
  };
  if (u.username) env.PGUSER = decodeURIComponent(u.username);
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password);
  const host = u.searchParams.get('host');
  if (host) env.PGHOST = host;
  const sslmode = u.searchParams.get('sslmode');
  if (sslmode) env.PGSSLMODE = sslmode;
  return env;
}

/** The database name a URL points at. */
export const databaseName = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));

/** The same URL pointing at another database on the same server. */
export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(name)}`;
  return u.toString();
}

export class PgToolError extends Error {
  constructor(tool: string, code: number | null, stderr: string) {
    super(`${tool} failed (exit ${code}): ${maskUrlCredentials(stderr.trim().split('\n').slice(-3).join(' | ')) || 'no message'}`);
    this.name = 'PgToolError';
  }
}

export interface Tool {
  child: ChildProcess;
  /** Resolves when the tool exits 0; rejects with its last stderr lines otherwise. */
  done: Promise<void>;
}

export function runTool(tool: string, args: string[], databaseUrl: string, stdio: Array<'pipe' | 'ignore'> = ['ignore', 'pipe', 'pipe']): Tool {
  const child = spawn(tool, ['--no-password', ...args], { stdio: stdio as ['pipe', 'pipe', 'pipe'], env: pgEnv(databaseUrl) });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-4000)));
  child.stdin?.on('error', () => undefined);
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (err) => reject(new PgToolError(tool, null, err.message)));
    child.on('close', (code, signal) => (code === 0 ? resolve() : reject(new PgToolError(tool, code, stderr || `killed by ${signal}`))));
  });
  done.catch(() => undefined);
  return { child, done };
}
