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

/**
 * Turn zod issues into our FieldProblem list (kept here so zod stays a detail). Unknown
 * fields of a strict object come as one issue at the object's path: each becomes a
 * problem at its own path, so `fields` names every field that is wrong.
 */
export function problemsFromZod(issues: ReadonlyArray<{ path: PropertyKey[]; message: string; code?: string; keys?: readonly string[] }>): FieldProblem[] {
  return issues.flatMap((i) => {
    const path = i.path.map(String);
    if (i.code === 'unrecognized_keys' && i.keys?.length) return i.keys.map((k) => ({ path: [...path, k].join('.'), message: 'is not a known field' }));
    return [{ path: path.join('.'), message: i.message }];
  });
}
