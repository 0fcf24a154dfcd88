/**
 * The CLI's usage text, written from the command declarations (command.ts) that the
 * parser reads too: `bulwark --help`, `bulwark <group> --help` and
 * `bulwark <group> <command> --help` print from one source, and a synopsis names the
 * flags the command accepts, no more, no fewer.
 */
import type { Command, Flag } from './command.js';
import type { LoadedGroup } from './commands/index.js';

/** A command with its full name (`apikey create`) and its synopsis lines (after the name). */
export interface NamedCommand {
  name: string;
  section: string;
  command: Command;
  synopsis: string[];
}

/** Synopsis lines wrap before a flag that would take the line past this width. */
const SYNOPSIS_WIDTH = 80;
/** The column descriptions start at in a list of commands. */
const COLUMN = 47;

const EXIT_CODES = `Exit codes: 0 success; 1 the work found a problem (a broken chain, something not found,
such as an unknown --tenant, a name already taken); 2 bad usage, input or configuration.`;

/** `--tenant ID`, `[--batch-size 200]`, `[--verbose]`: a flag as the synopsis shows it. */
function flagToken(name: string, f: Flag): string {
  const value = f.type === 'boolean' ? '' : f.type === 'int' ? ` ${f.value ?? f.default ?? 'N'}` : ` ${f.value}`;
  return f.required ? `--${name}${value}` : `[--${name}${value}]`;
}

/** The flags (in declaration order) and arguments after the name, wrapped into lines. */
function synopsisOf(name: string, c: Command): string[] {
  const tokens = [...Object.entries(c.flags).map(([n, f]) => flagToken(n, f)), ...(c.args ? [c.args] : [])];
  const lines: string[] = [];
  let line = '';
  for (const t of tokens) {
    const width = name.length + 1 + line.length + (line ? 1 : 0) + t.length;
    if (line && width > SYNOPSIS_WIDTH) {
      lines.push(line);
      line = t;
    } else line = line ? `${line} ${t}` : t;
  }
  return [...lines, line];
}

/** Every command of these groups, in the groups' order and each group's. */
export function listCommands(groups: readonly LoadedGroup[]): NamedCommand[] {
  return groups.flatMap((g) =>
    Object.entries(g.commands).map(([words, command]) => {
      const name = g.group ? `${g.group} ${words}` : words;
      return { name, section: g.section, command, synopsis: synopsisOf(name, command) };
    }),
  );
}

/** One command as table rows: synopsis on the left, description from COLUMN on. */
function rows(c: { name: string; synopsis: string[]; about: string[] }): string[] {
  const left = [
    `${c.name} ${c.synopsis[0]}`.trim(),
    ...c.synopsis.slice(1).map((l) => `${' '.repeat(c.name.length + 1)}${l}`),
  ];
  const out: string[] = [];
  let about = [...c.about];
  // The description starts on the synopsis' last line when it fits there, else below it.
  for (const [i, l] of left.entries()) {
    const last = i === left.length - 1;
    out.push(last && l.length < COLUMN - 1 && about.length > 0 ? `${l.padEnd(COLUMN)}${about.shift()}` : l);
  }
  about = about.map((a) => `${' '.repeat(COLUMN)}${a}`);
  return [...out, ...about].map((l) => `  ${l}`);
}

const rowsOf = (c: NamedCommand) => rows({ name: c.name, synopsis: c.synopsis, about: c.command.about });

const HELP_ROW = {
  name: 'help',
  synopsis: ['[COMMAND...]'],
  about: ["show this text, or one group's or command's usage"],
};

/** The whole usage: every command under its section's heading, sections in first-seen order. */
export function usage(all: readonly NamedCommand[]): string {
  const sections = [...new Set(all.map((c) => c.section))];
  return [
    'Usage: bulwark <command> [options]',
    ...sections.map(
      (s) =>
        `${s}:\n${all
          .filter((c) => c.section === s)
          .flatMap(rowsOf)
          .join('\n')}`,
    ),
    `Help:\n${rows(HELP_ROW).join('\n')}`,
    `${EXIT_CODES}\nEvery command takes --help. Configuration comes from the environment (and a .env file,\nif present); see docs/configuration.md.`,
  ].join('\n\n');
}

/** The usage of one command (`apikey create`), or undefined when there is none. */
export function commandUsage(all: readonly NamedCommand[], name: string): string | undefined {
  const c = all.find((x) => x.name === name);
  if (!c) return undefined;
  const synopsis = [
    `Usage: bulwark ${c.name} ${c.synopsis[0]}`.trimEnd(),
    ...c.synopsis.slice(1).map((l) => `${' '.repeat(16 + c.name.length)}${l}`),
  ];
  return `${synopsis.join('\n')}\n\n${c.command.about.map((a) => `  ${a}`).join('\n')}\n\n${EXIT_CODES}`;
}

/** The commands under a group (`apikey`, `tenant settings`), or undefined when it is none. */
export function groupUsage(all: readonly NamedCommand[], group: string): string | undefined {
  const members = all.filter((c) => c.name.startsWith(`${group} `));
  if (members.length === 0) return undefined;
  return `Usage: bulwark ${group} <command> [options]\n\nCommands:\n${members.flatMap(rowsOf).join('\n')}\n\nRun "bulwark ${group} <command> --help" for one command's usage.\n\n${EXIT_CODES}`;
}

/** The command names under a group, for an error that names them. */
export function groupCommands(all: readonly NamedCommand[], group: string): string[] {
  return all.filter((c) => c.name.startsWith(`${group} `)).map((c) => c.name.slice(group.length + 1));
}
