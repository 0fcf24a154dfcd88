/**
 * Process roles (`bulwark start --role`): which parts of Bulwark one process runs, so
 * the HTTP API, the workers and the scheduler can be scaled and placed apart. Every
 * role serves /healthz, /readyz and /metrics on HOST:PORT; only `api` and `all` add
 * the /v1 API and Bull Board (docs/architecture.md#process-roles).
 */
export const PROCESS_ROLES = ['all', 'api', 'worker', 'scheduler'] as const;
export type ProcessRole = (typeof PROCESS_ROLES)[number];

export interface RoleParts {
  /** The /v1 API and Bull Board beside the probes (false: probes and metrics only). */
  api: boolean;
  /** The queue workers. */
  workers: boolean;
  /** The scheduler (one active across every host: a lease in Redis). */
  scheduler: boolean;
  /**
   * Postgres and the secrets store: readiness needs Postgres and applied migrations, the
   * Postgres-read gauges are reported, MASTER_KEYS is required. The scheduler works on
   * Redis alone.
   */
  database: boolean;
}

export function partsOf(role: ProcessRole): RoleParts {
  switch (role) {
    case 'api':
      return { api: true, workers: false, scheduler: false, database: true };
    case 'worker':
      return { api: false, workers: true, scheduler: false, database: true };
    case 'scheduler':
      return { api: false, workers: false, scheduler: true, database: false };
    case 'all':
      return { api: true, workers: true, scheduler: true, database: true };
  }
}

export function isProcessRole(value: string): value is ProcessRole {
  return (PROCESS_ROLES as readonly string[]).includes(value);
}
