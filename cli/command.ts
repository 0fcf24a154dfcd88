/**
 * How a CLI command is declared. A command group (cli/commands/<group>.ts) declares each
 * of its commands once: its flags (which the parser enforces and from which the synopsis
 * in the usage text is written), its positional arguments, its description and its
 * `run`. The usage text (usage.ts) and the parser (flags.ts) both read this declaration,
 * so they cannot drift apart.
 *
 * This module and the group modules import nothing heavy: `bulwark --help` loads every
 * group's declaration, so a group's `run` imports what it needs (Prisma, zod, the
 * library) when it runs.
 */
import type { Config } from '../lib/config.js';
import type { CliIO } from './output.js';

export class UsageError extends Error {
  /** The command or group whose --help the error message points at, when known. */
  constructor(
    message: string,
    readonly topic?: string,
  ) {
    super(message);
  }
}

interface FlagBase {
  /** When true, leaving the flag out is a usage error. Default: false. */
  required?: boolean;
}
/** A text flag; `value` names its value in the synopsis (`--tenant ID`). */
export interface StringFlag extends FlagBase {
  type: 'string';
  value: string;
}
/**
 * A whole-number flag names its range, so every int flag has one and its error states
 * it. `default` is what the command gets when the flag is left out (none: undefined);
 * the synopsis shows it as the value (`[--batch-size 200]`) unless `value` is given.
 */
export interface IntFlag extends FlagBase {
  type: 'int';
  min: number;
  max: number;
  default?: number;
  value?: string;
}
export interface BooleanFlag extends FlagBase {
  type: 'boolean';
}
export type Flag = StringFlag | IntFlag | BooleanFlag;
export type FlagSpec = Record<string, Flag>;

type FlagValue<F extends Flag> = F extends IntFlag ? number : F extends BooleanFlag ? boolean : string;
type HasValue<F extends Flag> = F extends { required: true } ? true : F extends { default: number } ? true : false;

/** What the parser hands `run`: each flag typed by its declaration, positionals in `_`. */
export type FlagValues<S extends FlagSpec> = {
  [K in keyof S]: HasValue<S[K]> extends true ? FlagValue<S[K]> : FlagValue<S[K]> | undefined;
} & { _: string[] };

export interface RunContext {
  /** The configuration, loaded (and validated) on the first call: after the flags were. */
  config: () => Promise<Config>;
  io: CliIO;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

export interface Command<S extends FlagSpec = FlagSpec> {
  flags: S;
  /** Positional arguments after the flags, as the synopsis shows them (`KEY=VALUE...`); none when absent. */
  args?: string;
  /** What the command does, one entry per line of the usage text. */
  about: string[];
  // Method syntax on purpose: a command of specific flags is then a Command of any flags.
  run(flags: FlagValues<S>, ctx: RunContext): Promise<number> | number;
}

/** A group module's default export. The words its commands start with are its entry's in commands/index.ts. */
export interface CommandGroup {
  /** The heading the group's commands are listed under in `bulwark --help`; groups may share one. */
  section: string;
  /** The commands, by their last word(s), in the order the usage text lists them. */
  commands: Record<string, Command>;
}

/** One command, its flag values typed from its flags. */
export function command<const S extends FlagSpec>(c: Command<S>): Command<S> {
  return c;
}

export function defineGroup(g: CommandGroup): CommandGroup {
  return g;
}

/** The --tenant flag most commands take. */
export const TENANT = { type: 'string', value: 'ID', required: true } as const satisfies StringFlag;
