/** `bulwark channel add|list|remove`. */
import { queryLedger } from '../../lib/alerts/ledger-query.js';
import { addChannel, listChannels, removeChannel } from '../../lib/alerts/channels.js';
import type { Config } from '../../lib/config.js';
import type { CliIO } from '../output.js';
import { withTenant } from './with-prisma.js';

const CLI_ACTOR = { type: 'user' as const, id: 'bulwark-cli' };

export async function runChannelAdd(
  config: Config,
  io: CliIO,
  a: { tenantId: string; name: string; type: string; target: string; secretRef: string; severities?: string },
): Promise<number> {
  const severities = a.severities?.split(',').map((s) => s.trim()).filter(Boolean);
  const c = await withTenant(config, a.tenantId, (p) =>
    addChannel(p, { tenantId: a.tenantId, name: a.name, type: a.type as never, target: a.target, secretRef: a.secretRef, severities: severities as never }, CLI_ACTOR, { allowPrivateTargets: config.alertTargetsAllowPrivate }),
  );
  io.out(`added ${c.type} channel ${c.name} (${c.id}) for ${c.severities.join(',')}`);
  return 0;
}

export async function runChannelList(config: Config, io: CliIO, tenantId: string): Promise<number> {
  const rows = await withTenant(config, tenantId, (p) => listChannels(p, tenantId));
  for (const c of rows) io.out(`${c.name}\t${c.type}\t${c.target}\t${c.secretRef}\t${c.severities.join(',')}\t${c.enabled ? 'enabled' : 'disabled'}`);
  io.out(`${rows.length} channel(s)`);
  return 0;
}

export async function runChannelRemove(config: Config, io: CliIO, tenantId: string, name: string): Promise<number> {
  const c = await withTenant(config, tenantId, (p) => removeChannel(p, tenantId, name, CLI_ACTOR));
  io.out(`removed channel ${c.name}`);
  return 0;
}

export async function runAlertsLog(config: Config, io: CliIO, a: { tenantId: string; since?: string; outcome?: string; limit?: number; cursor?: string }): Promise<number> {
  const page = await withTenant(config, a.tenantId, (p) => queryLedger(p, { tenantId: a.tenantId, since: a.since, outcome: a.outcome as never, limit: a.limit, cursor: a.cursor }));
  for (const r of page.items) {
    // The last send's HTTP status, and its error on a line of its own, say why a row is
    // failed or still delivering. The title stays the last field: it is free text.
    io.out(`${r.receivedAt}\t${r.outcome}\t${r.reason ?? '-'}\t${r.severity}\t${r.type}\t${r.channel ?? '-'}\tattempts ${r.attempts}${r.deliveryMs !== null ? `\t${r.deliveryMs} ms` : ''}${r.lastStatus !== null ? `\tHTTP ${r.lastStatus}` : ''}\t${r.title}`);
    if (r.lastError && r.deliveries.length <= 1) io.out(`  ! ${r.lastError.slice(0, 200)}`);
    // Several channels: each one's send on a line of its own, under its alert.
    if (r.deliveries.length > 1) {
      for (const d of r.deliveries) io.out(`  -> ${d.channel ?? d.channelId}\t${d.outcome}\t${d.reason ?? '-'}\tattempts ${d.attempts}${d.lastStatus !== null ? `\tHTTP ${d.lastStatus}` : ''}${d.deliveryMs !== null ? `\t${d.deliveryMs} ms` : ''}`);
    }
  }
  io.out(`${page.items.length} alert(s)${page.nextCursor ? `; older ones: add --cursor ${page.nextCursor}` : ''}`);
  return 0;
}
