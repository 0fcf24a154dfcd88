/**
 * Alert channels: where a tenant's alerts go. A channel names its type, its target
 * (webhook URL, Slack label, Telegram chat id), the severities it takes and a
 * `secret://NAME` reference to its credential (webhook signing secret, Slack
 * incoming-webhook URL, Telegram bot token), resolved only when sending.
 */
import { z } from 'zod';
import { actorFields, recordAuditInTx, type AuditActor } from '../audit/record.js';
import type { PrismaClient } from '../clients/prisma.js';
import { ALERT_SEVERITIES } from '../contracts/alert.js';
import { isStorableText } from '../contracts/common.js';
import { ConflictError, NotFoundError, ValidationError, problemsFromZod } from '../errors.js';
import { literalTargetProblem } from './target-address.js';

export const CHANNEL_TYPES = ['webhook', 'slack', 'telegram'] as const;
type Actor = AuditActor;

export const channelInputSchema = z
  .object({
    tenantId: z.uuid({ error: 'must be a UUID' }).transform((s) => s.toLowerCase()),
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'must be 1-100 letters, digits, ".", "_" or "-"'),
    type: z.enum(CHANNEL_TYPES, { error: `must be one of ${CHANNEL_TYPES.join(', ')}` }),
    // Storable: Postgres refuses a NUL (a 500), and a lone surrogate was stored as U+FFFD.
    target: z.string().min(1, 'must not be empty').max(2048).refine(isStorableText, 'must not contain NUL characters or unpaired surrogates'),
    secretRef: z.string().regex(/^secret:\/\/[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/, 'must be a secret reference like secret://NAME (never the credential itself)'),
    severities: z.array(z.enum(ALERT_SEVERITIES, { error: `must be among ${ALERT_SEVERITIES.join(', ')}` })).min(1).default([...ALERT_SEVERITIES]),
  })
  .strict()
  .superRefine((c, ctx) => {
    const url = c.type === 'webhook' && /^https?:\/\/[^\s]+$/.test(c.target) && URL.canParse(c.target) ? new URL(c.target) : null;
    if (c.type === 'webhook' && !url) {
      ctx.addIssue({ code: 'custom', path: ['target'], message: 'must be the http(s) URL to POST to' });
    } else if (url && (url.username || url.password)) {
      // The target is shown by channel list and the API; a credential belongs in the secret.
      ctx.addIssue({ code: 'custom', path: ['target'], message: 'must not carry a user or password (the target is shown by `channel list` and the API; put the credential in the secret)' });
    }
    if (c.type === 'telegram' && !/^(-?\d{1,20}|@[A-Za-z0-9_]{5,32})$/.test(c.target)) {
      ctx.addIssue({ code: 'custom', path: ['target'], message: 'must be a Telegram chat id (digits, may start with -) or @channelname' });
    }
  });

export type ChannelInput = z.input<typeof channelInputSchema>;

/**
 * Which targets a channel may have (ALERT_TARGETS_ALLOW_PRIVATE): every caller passes
 * its config's choice, so no path adds a channel with the check forgotten.
 */
export interface TargetPolicy {
  allowPrivateTargets: boolean;
}

export interface ChannelRecord {
  id: string;
  name: string;
  type: (typeof CHANNEL_TYPES)[number];
  target: string;
  secretRef: string;
  severities: string[];
  enabled: boolean;
  createdAt: Date;
}

const toRecord = (r: ChannelRecord): ChannelRecord => ({ id: r.id, name: r.name, type: r.type, target: r.target, secretRef: r.secretRef, severities: r.severities, enabled: r.enabled, createdAt: r.createdAt });

export async function addChannel(prisma: PrismaClient, input: ChannelInput, actor: Actor, policy: TargetPolicy): Promise<ChannelRecord> {
  const parsed = channelInputSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError('channel', problemsFromZod(parsed.error.issues));
  const c = parsed.data;
  // Only what needs no DNS is refused here (a literal address, localhost): a host name
  // can resolve elsewhere by the time of sending, so the send checks it again (SSRF).
  // A Slack channel's URL is in its secret, checked only when sending.
  const targetProblem = c.type === 'webhook' && !policy.allowPrivateTargets ? literalTargetProblem(c.target) : undefined;
  if (targetProblem) throw new ValidationError('channel', [{ path: 'target', message: targetProblem }]);
  const secretName = c.secretRef.slice('secret://'.length);
  return prisma.$transaction(async (tx) => {
    const secret = await tx.secret.findUnique({ where: { tenantId_name: { tenantId: c.tenantId, name: secretName } }, select: { id: true } });
    if (!secret) throw new ValidationError('channel', [{ path: 'secretRef', message: `names no secret of this tenant; store it first with \`bulwark secret set --name ${secretName}\`` }]);
    const taken = await tx.alertChannel.findUnique({ where: { tenantId_name: { tenantId: c.tenantId, name: c.name } }, select: { id: true } });
    if (taken) throw new ConflictError(`a channel named "${c.name}" already exists`);
    const row = await tx.alertChannel.create({ data: { tenantId: c.tenantId, name: c.name, type: c.type, target: c.target, secretRef: c.secretRef, severities: c.severities } });
    await recordAuditInTx(tx, {
      tenantId: c.tenantId, ...actorFields(actor),
      action: 'channel:added', resourceType: 'alert_channel', resourceId: row.id,
      // `ref`, not secret_ref: redaction hides any field named like a secret or credential,
      // and a reference is neither; the trail should say which secret the channel uses.
      after: { name: row.name, type: row.type, target: row.target, ref: row.secretRef, severities: row.severities },
    });
    return toRecord(row as ChannelRecord);
  });
}

export async function listChannels(prisma: PrismaClient, tenantId: string): Promise<ChannelRecord[]> {
  const rows = await prisma.alertChannel.findMany({ where: { tenantId }, orderBy: { name: 'asc' } });
  return rows.map((r) => toRecord(r as ChannelRecord));
}

export async function removeChannel(prisma: PrismaClient, tenantId: string, nameOrId: string, actor: Actor): Promise<ChannelRecord> {
  return prisma.$transaction(async (tx) => {
    const row = await tx.alertChannel.findFirst({
      where: { tenantId, OR: [{ name: nameOrId }, ...(z.uuid().safeParse(nameOrId).success ? [{ id: nameOrId }] : [])] },
    });
    if (!row) throw new NotFoundError(`no channel "${nameOrId}" for tenant ${tenantId}`);
    await tx.alertChannel.delete({ where: { id: row.id } });
    await recordAuditInTx(tx, {
      tenantId, ...actorFields(actor),
      action: 'channel:removed', resourceType: 'alert_channel', resourceId: row.id, before: { name: row.name, type: row.type, target: row.target },
    });
    return toRecord(row as ChannelRecord);
  });
}
