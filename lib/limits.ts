/**
 * Numeric limits that the library enforces and the CLI both parses its flags against and
 * prints in its usage text. They live here, in a module that imports nothing, so that
 * `bulwark --help` can read them without loading zod, Prisma or Redis clients (about
 * 0.8 s of start-up). The modules that enforce each limit re-export it.
 */

/**
 * Longest time a rotated key stays valid, in seconds: a day is enough to roll a new
 * key out, and a longer grace would leave a key meant to be retired usable for months.
 */
export const ROTATION_GRACE_MAX_SECONDS = 86_400;
/** How long a rotated key stays valid when no grace is given (the CLI's --grace-seconds default too). */
export const ROTATION_GRACE_DEFAULT_SECONDS = 300;

/** Most alerts one ledger page holds; the CLI's --limit is held to it too. */
export const LEDGER_PAGE_MAX = 500;

/**
 * Largest master-key rotation batch: one batch is one transaction holding every row it
 * rewrites, so the bound keeps a typo (an extra zero or three) from becoming one huge
 * transaction.
 */
export const ROTATION_BATCH_MAX = 10_000;
