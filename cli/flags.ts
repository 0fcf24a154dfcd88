/** Flag parsing for the CLI: strict (unknown flags are errors), typed, with required flags named. */
import { parseArgs } from 'node:util';

export class UsageError extends Error {
  /** The command or group whose --help the error message points at, when known. */
  constructor(message: string, readonly topic?: string) {
    super(message);
  }
}

export type FlagSpec = Record<string, { type: 'string' | 'int' | 'boolean'; required?: boolean }>;
export interface Flags {
  _: string[];
  [name: string]: string | number | boolean | string[] | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function parseFlags(args: string[], spec: FlagSpec, positionals = false): Flags {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      options: Object.fromEntries(Object.entries(spec).map(([k, v]) => [k, { type: v.type === 'boolean' ? 'boolean' : 'string' }])),
      strict: true,
      allowPositionals: positionals,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const out: Flags = { _: parsed.positionals };
  for (const [name, s] of Object.entries(spec)) {
    const v = parsed.values[name];
    if (v === undefined) {
      if (s.required) throw new UsageError(`--${name} is required`);
      continue;
    }
    if (s.type === 'int') {
      if (typeof v !== 'string' || !/^\d+$/.test(v)) throw new UsageError(`--${name} must be a whole number`);
      out[name] = Number(v);
    } else if (name === 'tenant' && (typeof v !== 'string' || !UUID.test(v))) {
      // Checked here so a typo is a usage error, not a database error about uuid syntax.
      throw new UsageError(`--tenant must be a tenant id (a UUID, as \`bulwark tenant create\` printed it), got "${String(v).slice(0, 64)}"`);
    } else out[name] = v as string | boolean;
  }
  return out;
}
