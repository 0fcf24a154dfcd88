/**
 * Flag parsing for the CLI: strict (unknown flags are errors), typed, with required
 * flags named, whole-number flags held to a declared range, and each flag given at
 * most once (a repeated flag silently taking its last value could revoke a key of
 * the wrong tenant, so it is a usage error instead; no flag is repeatable). The flags
 * are those a command declares (command.ts). This module loads zod (through isUuid's
 * module), so main.ts imports it only to run a command, never for --help.
 */
import { parseArgs } from 'node:util';
import { isUuid } from '../lib/contracts/common.js';
import { UsageError, type FlagSpec, type FlagValues } from './command.js';

/**
 * `--grace-seconds -1`: parseArgs refuses a value starting with "-" as ambiguous (it
 * may be a forgotten value before another flag). For a whole-number flag a negative
 * number cannot be a flag, so it is joined to its flag and judged by the range check,
 * whose message says what is allowed.
 */
function joinNegativeInts(args: string[], spec: FlagSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = args[i]!.startsWith('--') ? args[i]!.slice(2) : undefined;
    if (name && spec[name]?.type === 'int' && /^-\d+$/.test(args[i + 1] ?? '')) out.push(`${args[i]}=${args[++i]}`);
    else out.push(args[i]!);
  }
  return out;
}

export function parseFlags<S extends FlagSpec>(args: string[], spec: S, positionals = false): FlagValues<S> {
  let parsed: ReturnType<typeof parseArgs<{ options: Record<string, { type: 'string' | 'boolean' }>; strict: true; allowPositionals: boolean; tokens: true }>>;
  try {
    parsed = parseArgs({
      args: joinNegativeInts(args, spec),
      options: Object.fromEntries(Object.entries(spec).map(([k, v]) => [k, { type: v.type === 'boolean' ? ('boolean' as const) : ('string' as const) }])),
      strict: true,
      allowPositionals: positionals,
      tokens: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const seen = new Set<string>();
  for (const t of parsed.tokens) {
    if (t.kind !== 'option') continue;
    if (seen.has(t.name)) throw new UsageError(`--${t.name} was given more than once; give it once`);
    seen.add(t.name);
  }
  const out: Record<string, unknown> = { _: parsed.positionals };
  for (const [name, s] of Object.entries(spec)) {
    const v = parsed.values[name];
    if (v === undefined) {
      if (s.required) throw new UsageError(`--${name} is required`);
      if (s.type === 'int' && s.default !== undefined) out[name] = s.default;
      continue;
    }
    if (s.type === 'int') {
      const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN;
      if (!Number.isSafeInteger(n) || n < s.min || n > s.max) throw new UsageError(`--${name} must be a whole number from ${s.min} to ${s.max}, got "${String(v).slice(0, 32)}"`);
      out[name] = n;
    } else if (name === 'tenant' && (typeof v !== 'string' || !isUuid(v))) {
      // Checked here so a typo is a usage error, not a database error about uuid syntax.
      throw new UsageError(`--tenant must be a tenant id (a UUID, as \`bulwark tenant create\` printed it), got "${String(v).slice(0, 64)}"`);
    } else if (name === 'tenant') {
      // Postgres reads a UUID in either case but prints it in lower case: so does every output naming it.
      out[name] = (v as string).toLowerCase();
    } else out[name] = v as string | boolean;
  }
  return out as FlagValues<S>;
}
