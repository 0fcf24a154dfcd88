/** A running Bulwark with its HTTP API for API tests, and small request helpers. */
import type { Config } from '../../lib/config.js';
import type { Clock } from '../../lib/time.js';
import { ALERT_QUEUE } from '../../lib/contracts/alert.js';
import { startBulwark, type RunningBulwark } from '../../app/main.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { captureLogs, testConfig, waitFor } from './env.js';
import { obliterateQueues } from './queues.js';

export const OPERATOR = { username: 'ops', password: 'operator-password-123' };
export const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

export interface ApiHarness {
  db: TestDatabase;
  bulwark: RunningBulwark;
  logs: ReturnType<typeof captureLogs>;
  url: string;
  /** Create a tenant over HTTP as the operator; returns its id and admin key. */
  tenant(name: string): Promise<{ id: string; adminKey: string }>;
  call(method: string, path: string, options?: { key?: string; body?: unknown; headers?: Record<string, string> }): Promise<Response>;
  close(): Promise<void>;
}

/**
 * `adjust` may change the loaded configuration before Bulwark starts (e.g. to watch a field
 * being read); `options.clock` replaces the system clock.
 */
export async function startApi(overrides: Record<string, string> = {}, adjust: (config: Config) => Config = (c) => c, options: { clock?: Clock } = {}): Promise<ApiHarness> {
  const db = await createTestDatabase();
  const logs = captureLogs();
  const config = adjust(testConfig(db.url, {
    OPERATOR_USERNAME: OPERATOR.username,
    OPERATOR_PASSWORD: OPERATOR.password,
    LOG_LEVEL: 'info',
    ...overrides,
  }));
  const bulwark = await startBulwark(config, { logDestination: logs.stream, scheduler: false, clock: options.clock });
  const url = bulwark.url!;
  const call: ApiHarness['call'] = (method, path, options = {}) =>
    fetch(`${url}${path}`, {
      method,
      headers: {
        ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
    });
  return {
    db,
    bulwark,
    logs,
    url,
    call,
    async tenant(name) {
      const res = await call('POST', '/v1/tenants', { body: { name }, headers: { authorization: basic(OPERATOR.username, OPERATOR.password) } });
      if (res.status !== 201) throw new Error(`tenant create: ${res.status} ${await res.text()}`);
      const body = (await res.json()) as { tenant: { id: string }; adminKey: { key: string } };
      return { id: body.tenant.id, adminKey: body.adminKey.key };
    },
    async close() {
      await bulwark.stop();
      await obliterateQueues(config.queuePrefix);
      await db.drop();
    },
  };
}

/** A page of GET /v1/alerts, as much of it as the tests read. */
export interface AlertsPage {
  items: Array<{
    outcome: string;
    reason: string | null;
    deliveries: Array<{ channel: string; outcome: string; reason: string | null; lastStatus: number | null; lastError: string | null; attempts: number }>;
  }>;
}

/** GET /v1/alerts, asked again until the newest alert's outcome is `outcome`. */
export function newestAlertWhen(api: Pick<ApiHarness, 'call'>, key: string, outcome: string): Promise<AlertsPage> {
  return waitFor(async () => {
    const page = (await (await api.call('GET', '/v1/alerts', { key })).json()) as AlertsPage;
    return page.items[0]?.outcome === outcome ? page : undefined;
  }, `the newest alert ${outcome}`);
}

export { ALERT_QUEUE };
