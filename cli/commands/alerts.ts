/** `bulwark alerts log`: the alert ledger, every alert and what was decided and sent. */
import { LEDGER_PAGE_MAX } from '../../lib/limits.js';
import { command, defineGroup, TENANT } from '../command.js';

export default defineGroup({
  section: 'Alert channels (credentials are secret:// references)',
  commands: {
    log: command({
      flags: {
        tenant: TENANT,
        since: { type: 'string', value: 'ISO' },
        outcome: { type: 'string', value: 'O' },
        limit: { type: 'int', value: 'N', min: 1, max: LEDGER_PAGE_MAX },
        cursor: { type: 'string', value: 'C' },
      },
      about: ['the ledger: every alert and its decision'],
      async run(f, { config, io }) {
        const c = await config();
        const [{ queryLedger }, { withTenant }] = await Promise.all([
          import('../../lib/alerts/ledger-query.js'),
          import('./with-prisma.js'),
        ]);
        const page = await withTenant(c, f.tenant, (p) =>
          queryLedger(p, {
            tenantId: f.tenant,
            since: f.since,
            outcome: f.outcome as never,
            limit: f.limit,
            cursor: f.cursor,
          }),
        );
        for (const r of page.items) {
          // The last send's HTTP status, and its error on a line of its own, say why a row is
          // failed or still delivering. The title stays the last field: it is free text.
          io.out(
            `${r.receivedAt}\t${r.outcome}\t${r.reason ?? '-'}\t${r.severity}\t${r.type}\t${r.channel ?? '-'}\tattempts ${r.attempts}${r.deliveryMs !== null ? `\t${r.deliveryMs} ms` : ''}${r.lastStatus !== null ? `\tHTTP ${r.lastStatus}` : ''}\t${r.title}`,
          );
          if (r.lastError && r.deliveries.length <= 1) io.out(`  ! ${r.lastError.slice(0, 200)}`);
          // Several channels: each one's send on a line of its own, under its alert.
          if (r.deliveries.length > 1) {
            for (const d of r.deliveries)
              io.out(
                `  -> ${d.channel ?? d.channelId}\t${d.outcome}\t${d.reason ?? '-'}\tattempts ${d.attempts}${d.lastStatus !== null ? `\tHTTP ${d.lastStatus}` : ''}${d.deliveryMs !== null ? `\t${d.deliveryMs} ms` : ''}`,
              );
          }
        }
        io.out(
          `${page.items.length} alert(s)${page.nextCursor ? `; older ones: add --cursor ${page.nextCursor}` : ''}`,
        );
        return 0;
      },
    }),
  },
});
