/** Reading the alert ledger: newest first, filtered by time and outcome, cursor-paged, each alert with its channels' sends. */
import { z } from 'zod';
import type { PrismaClient } from '../clients/prisma.js';
import { ValidationError, problemsFromZod } from '../errors.js';
import { LEDGER_PAGE_MAX } from '../limits.js';
import { QUERY_INSTANT, QUERY_LIMIT } from '../query-fields.js';

// Most alerts one page holds: in lib/limits.ts, which the CLI's --limit reads too.
export { LEDGER_PAGE_MAX };

/** The latest instant a JavaScript Date holds. */
const MAX_DATE_MS = 8.64e15;

export const OUTCOMES = ['received', 'delivering', 'delivered', 'suppressed', 'grouped', 'deferred', 'failed'] as const;

export const ledgerQuerySchema = z
  .object({
    tenantId: z.uuid(),
    since: QUERY_INSTANT.optional(),
    outcome: z.enum(OUTCOMES, { error: `must be one of ${OUTCOMES.join(', ')}` }).optional(),
    limit: QUERY_LIMIT(LEDGER_PAGE_MAX, 100),
    /** The receivedAt|id of the last row of the previous page. */
    // A time JavaScript can hold and a well-formed id: either out of shape reached the
    // query as an invalid date or a uuid Postgres refuses, a 500.
    cursor: z
      .string()
      .regex(/^\d{1,16}\|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, { error: 'must be a cursor returned by an earlier page', abort: true })
      .refine((c) => Number(c.slice(0, c.indexOf('|'))) <= MAX_DATE_MS, 'must be a cursor returned by an earlier page')
      .optional(),
  })
  .strict();

export async function queryLedger(prisma: PrismaClient, input: z.input<typeof ledgerQuerySchema>) {
  const parsed = ledgerQuerySchema.safeParse(input);
  if (!parsed.success) throw new ValidationError('alert ledger query', problemsFromZod(parsed.error.issues));
  const q = parsed.data;
  const [ms, id] = q.cursor ? q.cursor.split('|') : [];
  const rows = await prisma.alertRecord.findMany({
    where: {
      tenantId: q.tenantId,
      ...(q.outcome ? { outcome: q.outcome } : {}),
      ...(q.since ? { receivedAt: { gte: new Date(q.since) } } : {}),
      ...(ms ? { OR: [{ receivedAt: { lt: new Date(Number(ms)) } }, { receivedAt: new Date(Number(ms)), id: { lt: id! } }] } : {}),
    },
    orderBy: [{ receivedAt: 'desc' }, { id: 'desc' }],
    take: q.limit + 1,
    include: { deliveries: { orderBy: { channel: 'asc' } } },
  });
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => ({
      id: r.id, type: r.type, severity: r.severity, title: r.title, groupKey: r.groupKey, userId: r.userId,
      occurredAt: r.occurredAt.toISOString(), receivedAt: r.receivedAt.toISOString(), outcome: r.outcome, reason: r.reason,
      groupId: r.groupId, deferUntil: r.deferUntil?.toISOString() ?? null, channel: r.channel, attempts: r.attempts,
      deliveredAt: r.deliveredAt?.toISOString() ?? null, deliveryMs: r.deliveryMs, lastStatus: r.lastStatus, lastError: r.lastError,
      // Each channel's send; the fields above tell the alert's outcome and its last send.
      deliveries: r.deliveries.map((d) => ({
        channelId: d.channelId, channel: d.channel, channelType: d.channelType, outcome: d.outcome, reason: d.reason, attempts: d.attempts,
        lastStatus: d.lastStatus, lastError: d.lastError, deliveredAt: d.deliveredAt?.toISOString() ?? null, deliveryMs: d.deliveryMs,
      })),
    })),
    nextCursor: rows.length > q.limit && last ? `${last.receivedAt.getTime()}|${last.id}` : null,
  };
}
