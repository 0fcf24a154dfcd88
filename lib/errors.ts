/**
 * Error classes that say what went wrong and why it matters to the caller.
 * None of them ever carries a secret value: messages name fields and variables only.
 */

/** One problem with one field of an input. `path` is dotted, e.g. `entries.3.tenantId`. */
export interface FieldProblem {
  path: string;
  message: string;
}

/** Input was rejected before anything was enqueued or written. Lists every bad field. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  readonly code = 'validation_failed';
  constructor(
    readonly what: string,
    readonly fields: FieldProblem[],
  ) {
    super(`invalid ${what}: ${fields.map((f) => `${f.path || '(root)'}: ${f.message}`).join('; ')}`);
  }

  /** The HTTP status, for error handlers other than the API's that read `statusCode` (Bull Board's, Fastify's default). */
  get statusCode(): number {
    return 400;
  }
}

/** Start-up configuration is invalid. Names every bad variable, never its value. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: FieldProblem[]) {
    super(
      `invalid configuration:\n${problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n')}`,
    );
  }
}

/** A named thing (tenant, entry, migration) does not exist. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
  constructor(message: string) {
    super(message);
  }

  /** The HTTP status, as for ValidationError. */
  get statusCode(): number {
    return 404;
  }
}

/** A unique name or key is already taken. */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';
  constructor(message: string) {
    super(message);
  }

  /** The HTTP status, as for ValidationError. */
  get statusCode(): number {
    return 409;
  }
}

/** A migration file failed; the database was left as it was before that file. */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';
  constructor(
    readonly migration: string,
    cause: unknown,
  ) {
    super(`migration ${migration} failed and was rolled back: ${describeCause(cause)}`);
  }
}

/** `bulwark start` found migrations not yet applied: workers must not run against an older schema. */
export class PendingMigrationsError extends Error {
  override readonly name = 'PendingMigrationsError';
  constructor(readonly pending: string[]) {
    super(`${pending.length} migration(s) pending (${pending.join(', ')}): run \`bulwark migrate\` before \`bulwark start\``);
  }
}

function describeCause(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/** The parts of a zod issue its message is made from (structural, so zod stays a detail). */
export interface ZodIssueLike {
  path: PropertyKey[];
  message: string;
  code?: string;
  keys?: readonly string[];
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  inclusive?: boolean;
  exact?: boolean;
  expected?: string;
  values?: readonly unknown[];
  format?: string;
  divisor?: number | bigint;
}

/** zod's own English messages ("Too small: expected number to be >=1"); a schema's own message never starts so. */
const ZOD_DEFAULT = /^(Invalid input|Invalid option|Invalid string|Invalid number|Invalid key in|Invalid value in|Invalid discriminator|Too big|Too small|Unrecognized key|Invalid [A-Za-z0-9 .-]+$)/;
const UNITS: Record<string, [string, string]> = { string: ['character', 'characters'], array: ['item', 'items'], set: ['item', 'items'], map: ['entry', 'entries'], file: ['byte', 'bytes'] };
const FORMATS: Record<string, string> = { uuid: 'a UUID', email: 'an email address', url: 'a URL', datetime: 'an ISO 8601 date and time', date: 'an ISO 8601 date (YYYY-MM-DD)', ipv4: 'an IPv4 address', ipv6: 'an IPv6 address', base64: 'base64', base64url: 'base64url' };
const TYPES: Record<string, string> = { string: 'a string', number: 'a number', int: 'a whole number', boolean: 'true or false', object: 'an object', record: 'an object', map: 'an object', array: 'an array', tuple: 'an array', set: 'an array', bigint: 'a whole number', date: 'a date', null: 'null' };

/**
 * An issue's message in the project's words: a schema's own message as it is, and in
 * place of zod's defaults ("Too small: expected number to be >=1", "Invalid input:
 * expected string, received number") a phrase like the schemas' ("must be at least 1",
 * "must be a string"). Every message that reaches a user (HTTP 400 bodies, the CLI, the
 * producer's ValidationError, configuration errors) passes through here.
 */
export function issueMessage(i: ZodIssueLike): string {
  if (!ZOD_DEFAULT.test(i.message)) return i.message;
  const [one, many] = UNITS[i.origin ?? ''] ?? [];
  const count = (n: number | bigint) => (one ? `${n} ${Number(n) === 1 ? one : many}` : String(n));
  switch (i.code) {
    case 'too_small':
      if (i.minimum === undefined) break;
      if (one && Number(i.minimum) === 1 && i.inclusive !== false && !i.exact) return 'must not be empty';
      return i.exact ? `must be exactly ${count(i.minimum)}` : i.inclusive === false ? `must be more than ${count(i.minimum)}` : `must be at least ${count(i.minimum)}`;
    case 'too_big':
      if (i.maximum === undefined) break;
      return i.exact ? `must be exactly ${count(i.maximum)}` : i.inclusive === false ? `must be less than ${count(i.maximum)}` : `must be at most ${count(i.maximum)}`;
    case 'invalid_type': {
      if (/received undefined$/.test(i.message)) return 'is required';
      return `must be ${TYPES[i.expected ?? ''] ?? `of type ${i.expected ?? 'another'}`}`;
    }
    case 'invalid_value':
      if (i.values?.length === 1) return `must be ${JSON.stringify(i.values[0])}`;
      if (i.values?.length) return `must be one of ${i.values.map(String).join(', ')}`;
      break;
    case 'invalid_format':
      if (i.format && FORMATS[i.format]) return `must be ${FORMATS[i.format]}`;
      return i.format === 'regex' ? 'is not in the expected form' : `must be a valid ${i.format ?? 'value'}`;
    case 'not_multiple_of':
      return `must be a multiple of ${i.divisor}`;
    case 'invalid_key':
      return 'has a key that is not allowed';
    case 'invalid_element':
      return 'holds a value that is not allowed';
  }
  return 'is not valid';
}

/**
 * Turn zod issues into our FieldProblem list (kept here so zod stays a detail). Unknown
 * fields of a strict object come as one issue at the object's path: each becomes a
 * problem at its own path, so `fields` names every field that is wrong. Messages are in
 * the project's words (issueMessage).
 */
export function problemsFromZod(issues: ReadonlyArray<ZodIssueLike>): FieldProblem[] {
  return issues.flatMap((i) => {
    const path = i.path.map(String);
    if (i.code === 'unrecognized_keys' && i.keys?.length) return i.keys.map((k) => ({ path: [...path, k].join('.'), message: 'is not a known field' }));
    return [{ path: path.join('.'), message: issueMessage(i) }];
  });
}
