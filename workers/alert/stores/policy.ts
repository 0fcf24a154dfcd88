/**
 * The tenant's alert settings and time zone, read for every alert: the rule is
 * that a policy change applies to the next alert, and a cache (even of a few seconds)
 * would let alerts through under the old policy, in this process or another. The reads
 * of concurrently running alert jobs share one statement (batcher.ts), so reading live
 * costs one round trip per batch, not a query per alert.
 */
import type pg from 'pg';
import { policyFromSettings, type AlertPolicy } from '../../../lib/alerts/decide.js';
import { NotFoundError } from '../../../lib/errors.js';
import { tenantSettingsSchema, type TenantSettings } from '../../../lib/tenants/settings.js';
import { createBatcher } from './batcher.js';

export interface TenantPolicyInputs {
  settings: TenantSettings;
  timezone: string;
}

export type PolicyInputsOf = (tenantId: string) => Promise<TenantPolicyInputs>;

/** The policy the tenant's settings give; quiet hours are read in the zone the settings name, else in the tenant's own. */
export function alertPolicyOf({ settings, timezone }: TenantPolicyInputs): AlertPolicy {
  const quietHours = settings.alerts.quietHours;
  return policyFromSettings({ ...settings.alerts, quietHours: { ...quietHours, timezone: quietHours.timezone ?? timezone } });
}

type Row = { timezone: string | null; settings: unknown };

async function readMany(db: Pick<pg.Pool, 'query'>, tenantIds: string[]): Promise<Array<TenantPolicyInputs | NotFoundError>> {
  const res = await db.query<Row>({
    name: 'bulwark_alert_policy_inputs_v1',
    text: `SELECT t.timezone, s.settings
             FROM unnest($1::uuid[]) WITH ORDINALITY AS k(id, n)
             LEFT JOIN tenants t ON t.id = k.id
             LEFT JOIN tenant_settings s ON s.tenant_id = k.id
            ORDER BY k.n`,
    values: [tenantIds],
  });
  return res.rows.map((row, i) =>
    // Stored documents gain defaults for fields added since they were written.
    row.timezone === null || row.settings === null ? new NotFoundError(`no tenant ${tenantIds[i]}`) : { settings: tenantSettingsSchema.parse(row.settings), timezone: row.timezone },
  );
}

/** Reads a tenant's alert policy inputs now, batched with other jobs' reads. */
export function createPolicyReader(db: Pick<pg.Pool, 'query'>): PolicyInputsOf {
  const read = createBatcher<string, TenantPolicyInputs | NotFoundError>({ maxBatch: 200, run: (ids) => readMany(db, ids) });
  return async (tenantId) => {
    const out = await read(tenantId);
    if (out instanceof NotFoundError) throw out;
    return out;
  };
}
