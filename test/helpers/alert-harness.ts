/**
 * A running Bulwark (workers on, scheduler off) with the alert processors' context, a
 * recording receiver, and what the alert fast-path, crash and sweep tests share: tenants
 * with webhook channels, alerts, reading the ledger, waiting for the delivery queue.
 * Everything is real: Redis, Postgres, HTTP on loopback.
 */
import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import { LOOPBACK_TARGETS } from './fixtures.js';
import { addChannel } from '../../lib/alerts/channels.js';
import { requireMasterKeys } from '../../lib/config.js';
import type { Alert } from '../../lib/contracts/alert.js';
import { ALERT_DELIVERY_QUEUE } from '../../lib/contracts/alert-delivery.js';
import { setSecret } from '../../lib/secrets/secrets.js';
import { createTenant } from '../../lib/tenants/tenants.js';
import { updateTenantSettings } from '../../lib/tenants/settings-store.js';
import { createAlertDeps, type AlertDeps } from '../../workers/alert/index.js';
import { startBulwark, type RunningBulwark } from '../../app/main.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from './db.js';
import { testConfig, waitFor } from './env.js';
import { cleanup } from './lifecycle.js';
import { obliterateQueues, queueIdle } from './queues.js';
import { startReceiver, type Receiver, type ReceiverOptions, type RecordedRequest } from './receiver.js';

export const system = { type: 'system' as const, id: 'test' };
/** What every harness webhook channel signs with, for verifying what the receiver got. */
export const HOOK_SECRET = 'whsec-harness-signing-key';
/** Job stand-ins for processAlert: a first run, and a run again after a crash or failure. */
export const firstRun = { id: 'first', attemptsStarted: 1 };
export const rerun = { id: 'rerun', attemptsStarted: 2 };

export interface LedgerRow {
  outcome: string;
  reason: string | null;
  group_id: string | null;
  defer_until: Date | null;
  channel: string | null;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  delivery_ms: number | null;
}

export interface AlertHarness {
  db: TestDatabase;
  bulwark: RunningBulwark;
  receiver: Receiver;
  ctx: AlertDeps;
  /** A tenant with webhook channels posting to the receiver at each path (default cooldown kept), in `timezone` (default UTC). */
  tenantWithHooks(
    name: string,
    paths: string[],
    alerts?: Record<string, unknown>,
    timezone?: string,
  ): Promise<{ tenantId: string; channelIds: string[] }>;
  alertFor(tenantId: string, extra?: Partial<Alert>): Alert;
  rowOf(id: string): Promise<LedgerRow | undefined>;
  outcomeOf(id: string): Promise<string | undefined>;
  requestsAt(path: string): RecordedRequest[];
  hitsAt(path: string): number;
  delivered(id: string, ms?: number): Promise<true>;
  /** Wait until no delivery is waiting, running or due soon: every send made has arrived. */
  deliveriesIdle(): Promise<true>;
  close(): Promise<void>;
}

export interface AlertHarnessOptions {
  /** With `logs`, Bulwark logs at info into that stream, for assertions on log events. */
  logs?: { stream: Writable };
  /** Configuration variables over the test defaults, e.g. TELEGRAM_API_URL. */
  config?: Record<string, string>;
  /** The clock Bulwark decides and records by (default: the system clock). */
  clock?: () => Date;
  /** How the recording receiver behaves, e.g. a body limit answered with 413. */
  receiver?: ReceiverOptions;
}

export async function startAlertHarness(options: AlertHarnessOptions = {}): Promise<AlertHarness> {
  const receiver = await startReceiver(options.receiver);
  const db = await createTestDatabase();
  const env: Record<string, string> = {
    SETTINGS_CACHE_MS: '0',
    ...(options.logs ? { LOG_LEVEL: 'info' } : {}),
    ...options.config,
  };
  const bulwark = await startBulwark(testConfig(db.url, env), {
    http: false,
    scheduler: false,
    clock: options.clock,
    logDestination: options.logs?.stream,
  });
  const ctx = createAlertDeps(
    bulwark.ctx,
    new Queue(ALERT_DELIVERY_QUEUE, { connection: bulwark.ctx.redis, prefix: bulwark.ctx.config.queuePrefix }),
  );
  const rowOf = async (id: string) =>
    (
      await superuserQuery(
        db.url,
        'SELECT outcome, reason, group_id, defer_until, channel, attempts, last_status, last_error, delivered_at, delivery_ms FROM alert_ledger WHERE id = $1',
        [id],
      )
    ).rows[0] as LedgerRow | undefined;
  const requestsAt = (path: string) => receiver.requests.filter((r) => r.path === path);
  const outcomeOf = async (id: string) => (await rowOf(id))?.outcome;
  return {
    db,
    bulwark,
    receiver,
    ctx,
    async tenantWithHooks(name, paths, alerts = {}, timezone) {
      const t = await createTenant(bulwark.ctx.prisma, { name, ...(timezone ? { timezone } : {}) });
      await updateTenantSettings(
        bulwark.ctx.prisma,
        t.id,
        { alerts: { maxPerWindow: 100, userThrottle: { limit: 0 }, ...alerts } },
        system,
      );
      await setSecret(
        bulwark.ctx.prisma,
        requireMasterKeys(bulwark.ctx.config),
        { tenantId: t.id, name: 'hook', value: HOOK_SECRET },
        system,
      );
      for (const [i, path] of paths.entries()) {
        await addChannel(
          bulwark.ctx.prisma,
          {
            tenantId: t.id,
            name: `hook-${i}`,
            type: 'webhook',
            target: `${receiver.url}${path}`,
            secretRef: 'secret://hook',
          },
          system,
          LOOPBACK_TARGETS,
        );
      }
      const channels = await bulwark.ctx.prisma.alertChannel.findMany({
        where: { tenantId: t.id },
        orderBy: { name: 'asc' },
      });
      return { tenantId: t.id, channelIds: channels.map((c) => c.id) };
    },
    alertFor: (tenantId, extra = {}) => ({
      id: randomUUID(),
      tenantId,
      type: 'disk.full',
      severity: 'warning',
      title: 'Disk almost full',
      occurredAt: new Date().toISOString(),
      ...extra,
    }),
    rowOf,
    outcomeOf,
    requestsAt,
    hitsAt: (path) => requestsAt(path).length,
    delivered: (id, ms) =>
      waitFor(
        async () => ((await outcomeOf(id)) === 'delivered' ? (true as const) : undefined),
        `alert ${id} delivered`,
        ms,
      ),
    // A delayed deliver job is a send still to come (a backoff, a pause), however far off.
    deliveriesIdle: () =>
      queueIdle(ctx.deliveries, (j) => j.name === 'deliver' || j.timestamp + (j.opts.delay ?? 0) < Date.now() + 5_000),
    close: cleanup([
      ['close queue', () => ctx.deliveries.close()],
      ['close alert sends', () => ctx.http.close()],
      ['stop bulwark', () => bulwark.stop()],
      ['obliterate queues', () => obliterateQueues(bulwark.ctx.config.queuePrefix)],
      ['drop database', () => db.drop()],
      ['close receiver', () => receiver.close()],
    ]),
  };
}
