/**
 * Telling a passing database failure (retry later) from one that will never succeed.
 * Prisma wraps driver errors; the SQLSTATE or Node error code sits at different depths.
 */

const TRANSIENT_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/** Prisma's codes for "cannot reach", "connection closed", "pool timeout", "transaction expired". */
const TRANSIENT_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028']);
/** SQLSTATE classes: 08 connection, 53 resources, 57 operator intervention, 58 system; 40 serialization/deadlock. */
const TRANSIENT_SQLSTATE = /^(08|53|57|58|40)/;
const TRANSIENT_MESSAGE = /connect|connection|terminat|timed? ?out|ECONN|socket|closed|shutting down|server closed/i;

/** Every error code (SQLSTATE, Prisma's, Node's) found on the error and its causes, outermost first. */
export function codesOf(err: unknown, depth = 0): string[] {
  if (!err || typeof err !== 'object' || depth > 4) return [];
  const e = err as Record<string, unknown>;
  const own = [e.code, e.errno, (e.meta as Record<string, unknown> | undefined)?.code].filter(
    (c): c is string => typeof c === 'string',
  );
  return [
    ...own,
    ...codesOf(e.cause, depth + 1),
    ...codesOf(e.meta, depth + 1),
    ...codesOf(e.driverAdapterError, depth + 1),
  ];
}

export function isTransientDbError(err: unknown): boolean {
  const codes = codesOf(err);
  if (codes.some((c) => TRANSIENT_NODE_CODES.has(c) || TRANSIENT_PRISMA_CODES.has(c) || TRANSIENT_SQLSTATE.test(c))) {
    return true;
  }
  // A code that is not transient is the better witness: a unique violation (23505) on a
  // constraint that happens to be named "connections" is still permanent.
  if (codes.length > 0) return false;
  return err instanceof Error && TRANSIENT_MESSAGE.test(err.message);
}
