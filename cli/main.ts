/**
 * `bulwark` CLI. Every command validates its flags (unknown or missing ones are a clear
 * error and exit 2), loads the configuration once, and exits 0 on success, 1 when the
 * work found a problem (e.g. a broken chain), 2 on bad usage or configuration.
 */
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../lib/config.js';
import { ConfigError, ConflictError, MigrationError, ValidationError } from '../lib/errors.js';
import { maskUrlCredentials } from '../lib/redact.js';
import { runAuditVerify, runMigrate, runStart, runTenantCreate } from './commands/core.js';
import { processIO, type CliIO } from './output.js';

export const USAGE = `Usage: bulwark <command> [options]

Commands:
  migrate                                   create the database if needed and apply pending migrations
  tenant create --name NAME [--timezone TZ] create a tenant with default settings; prints its id
  audit verify [--tenant ID]                verify audit hash chains; exit 1 naming the first bad entry
  start                                     run workers, scheduler and the HTTP server until SIGTERM
  help                                      show this text

Configuration comes from the environment; see README.md ("Configuration").`;

class UsageError extends Error {}

type Flags = Record<string, { type: 'string' | 'boolean' }>;

function parse(args: string[], options: Flags) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as Record<string, string | undefined>;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export async function main(argv: string[], io: CliIO = processIO, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, sub, ...rest] = argv;
  try {
    if (!command || command === 'help' || command === '--help' || command === '-h') {
      io.out(USAGE);
      return 0;
    }
    const config = (): Config => loadConfig(env);
    switch (command) {
      case 'migrate':
        parse([sub, ...rest].filter((a): a is string => a !== undefined), {});
        return await runMigrate(config(), io);
      case 'start':
        parse([sub, ...rest].filter((a): a is string => a !== undefined), {});
        return await runStart(config(), io);
      case 'tenant': {
        if (sub !== 'create') throw new UsageError(`unknown tenant command "${sub ?? ''}"; expected "tenant create"`);
        const flags = parse(rest, { name: { type: 'string' }, timezone: { type: 'string' } });
        if (flags.name === undefined) throw new UsageError('tenant create needs --name NAME');
        return await runTenantCreate(config(), io, { name: flags.name, timezone: flags.timezone });
      }
      case 'audit': {
        if (sub !== 'verify') throw new UsageError(`unknown audit command "${sub ?? ''}"; expected "audit verify"`);
        const flags = parse(rest, { tenant: { type: 'string' } });
        return await runAuditVerify(config(), io, { tenantId: flags.tenant });
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`bulwark: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof ConfigError || err instanceof ValidationError) {
      io.err(`bulwark: ${err.message}`);
      return 2;
    }
    if (err instanceof ConflictError || err instanceof MigrationError) {
      io.err(`bulwark: ${err.message}`);
      return 1;
    }
    io.err(`bulwark: ${maskUrlCredentials(err instanceof Error ? err.message : String(err))}`);
    return 1;
  }
}
