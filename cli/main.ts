/**
 * `bulwark` CLI. Every command validates its flags (unknown or missing ones are a clear
 * error and exit 2), loads the configuration once, and exits 0 on success, 1 when the
 * work found a problem (a broken chain, a secret that did not decrypt, a duplicate,
 * something not found, such as an unknown --tenant), 2 on bad usage, input or
 * configuration. `--help` anywhere prints the usage of the command or group named.
 *
 * The commands are declared by group in cli/commands/ (listed in commands/index.ts).
 * Running one loads its group's module alone and, once its flags are read, what its work
 * needs; help loads only the declarations. This module imports nothing heavy, so
 * `bulwark --help` starts in a fraction of a second.
 */
import type { Config } from '../lib/config.js';
import {
  ConfigError,
  ConflictError,
  MigrationError,
  NotFoundError,
  PendingMigrationsError,
  ValidationError,
} from '../lib/errors.js';
import { maskUrlCredentials } from '../lib/redact.js';
import { UsageError, type Command } from './command.js';
import { GROUPS, loadAllGroups, loadGroup } from './commands/index.js';
import { processIO, type CliIO } from './output.js';
import { commandUsage, groupCommands, groupUsage, listCommands, usage, type NamedCommand } from './usage.js';

const HELP = ['--help', '-h'];

/** Every command name, so a test can hold the usage text and the docs to the commands that exist. */
export async function commandNames(): Promise<string[]> {
  return listCommands(await loadAllGroups()).map((c) => c.name);
}

/**
 * The command argv starts with, and the arguments after its words: the group with the
 * longest words argv starts with whose module has the next word(s) as a command. Only
 * the modules of matching groups are loaded, longest first.
 */
async function resolve(argv: string[]): Promise<{ name: string; command: Command; args: string[] } | undefined> {
  const candidates = GROUPS.filter((g) => g.group === '' || g.group.split(' ').every((w, i) => argv[i] === w)).sort(
    (a, b) => b.group.length - a.group.length,
  );
  for (const entry of candidates) {
    const group = await loadGroup(entry);
    const skip = entry.group === '' ? 0 : entry.group.split(' ').length;
    // A command's own words: `rotate-master`, or more than one (`settings get` is a group of its own).
    for (const words of [2, 1]) {
      const own = argv.slice(skip, skip + words);
      if (own.length < words || own.some((w) => w.startsWith('-'))) continue;
      const command = group.commands[own.join(' ')];
      if (command)
        return { name: [entry.group, ...own].filter(Boolean).join(' '), command, args: argv.slice(skip + words) };
    }
  }
  return undefined;
}

/**
 * `help X Y` or `X Y --help`: the usage of the longest command X Y starts with (later
 * words may be arguments), else of group X Y exactly, else of everything when empty.
 */
function helpFor(all: NamedCommand[], words: string[]): string {
  for (let n = words.length; n > 0; n--) {
    const text = commandUsage(all, words.slice(0, n).join(' '));
    if (text) return text;
  }
  if (words.length === 0) return usage(all);
  return groupUsage(all, words.join(' ')) ?? unknownCommand(all, words);
}

/** No command by these words: name the commands of the nearest group, if any. */
function unknownCommand(all: NamedCommand[], words: string[]): never {
  let group = '';
  for (let n = words.length; n > 0 && !group; n--)
    if (groupCommands(all, words.slice(0, n).join(' ')).length) group = words.slice(0, n).join(' ');
  const sub = groupCommands(all, group).join(', ');
  // `bulwark apikey` or `bulwark apikey frob`: the group's commands, so the fix is in sight.
  if (group && group === words.join(' ')) throw new UsageError(`"${group}" needs a command: ${sub}`, group);
  throw new UsageError(`unknown command "${words.join(' ')}"${group ? ` ("${group}" has: ${sub})` : ''}`, group);
}

export async function main(
  argv: string[],
  io: CliIO = processIO,
  env: NodeJS.ProcessEnv = process.env,
  stdin: NodeJS.ReadableStream & { isTTY?: boolean } = process.stdin,
): Promise<number> {
  // What a usage error points at for help: the command run, or the group it is in.
  let topic = '';
  try {
    const firstFlag = argv.findIndex((a) => a.startsWith('-'));
    const words = (firstFlag === -1 ? argv : argv.slice(0, firstFlag)).slice(0, 3);
    if (argv.length === 0 || argv[0] === 'help' || argv.some((a) => HELP.includes(a))) {
      io.out(
        helpFor(
          listCommands(await loadAllGroups()),
          argv[0] === 'help' ? argv.slice(1).filter((a) => !a.startsWith('-')) : words,
        ),
      );
      return 0;
    }
    const found = await resolve(argv);
    if (!found) unknownCommand(listCommands(await loadAllGroups()), words);
    topic = found.name;
    // Flags are read before the configuration, so a wrong flag is reported as such even
    // when the configuration is bad too. The parser loads zod: help never needs it.
    const { parseFlags } = await import('./flags.js');
    const flags = parseFlags(found.args, found.command.flags, found.command.args !== undefined);
    let config: Promise<Config> | undefined;
    const loadConfig = () => (config ??= import('../lib/config.js').then((m) => m.loadConfig(env)));
    return await found.command.run(flags, { config: loadConfig, io, stdin });
  } catch (err) {
    if (err instanceof UsageError) {
      const about = err.topic ?? topic;
      io.err(`bulwark: ${err.message}\n\nRun "bulwark ${about ? `${about} ` : ''}--help" for usage.`);
      return 2;
    }
    if (err instanceof ConfigError || err instanceof ValidationError) {
      io.err(`bulwark: ${err.message}`);
      return 2;
    }
    if (
      err instanceof ConflictError ||
      err instanceof MigrationError ||
      err instanceof PendingMigrationsError ||
      err instanceof NotFoundError
    ) {
      io.err(`bulwark: ${err.message}`);
      return 1;
    }
    io.err(`bulwark: ${maskUrlCredentials(err instanceof Error ? err.message : String(err))}`);
    return 1;
  }
}
