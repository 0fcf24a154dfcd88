/**
 * The backup manifest: what a backup holds and how to check it, signed, written last.
 * Its schema is checked on read, so a manifest edited by hand (or by a newer Bulwark
 * with another format) is refused with the field named, not half-understood.
 */
import { z } from 'zod';
import { BACKUP_ID, BACKUP_KINDS } from '../contracts/backup.js';
import { TENANT_ID } from '../contracts/common.js';
import { signingKeys, type SigningKey } from './keys.js';
import { sign, verifySignature, type Signature } from './signing.js';
import type { Config } from '../config.js';

export const MANIFEST_FORMAT = 'bulwark-backup/1';

const SHA256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 hex digits');

/** One encrypted part object. */
export const partSchema = z
  .object({
    /** Which stream it belongs to: `database`, a table name (tenant backups), `objects-index`. */
    stream: z.string().min(1),
    /** 1-based position in its stream; parts are decrypted and joined in this order. */
    index: z.number().int().min(1),
    key: z.string().min(1),
    /** Ciphertext bytes (the object's size). */
    size: z.number().int().min(0),
    plainSize: z.number().int().min(0),
    sha256: SHA256,
    plainSha256: SHA256,
  })
  .strict();
export type PartRecord = z.infer<typeof partSchema>;

export const manifestBodySchema = z
  .object({
    format: z.literal(MANIFEST_FORMAT),
    id: BACKUP_ID,
    kind: z.enum(BACKUP_KINDS),
    tenantId: TENANT_ID.optional(),
    environment: z.string(),
    bulwarkVersion: z.string(),
    startedAt: z.string(),
    finishedAt: z.string(),
    /** Why it was taken, e.g. the restore it is the rollback point of. */
    reason: z.string().optional(),
    postgres: z.object({ version: z.string(), database: z.string() }).strict(),
    migrations: z.array(z.object({ name: z.string(), checksum: z.string() }).strict()),
    /** Bulwark's configuration without secret values (secrets shown as "(set)"). */
    config: z.record(z.string(), z.unknown()),
    encryption: z.object({ format: z.literal('age'), recipient: z.string().startsWith('age1') }).strict(),
    parts: z.array(partSchema),
    /** Rows per table in the backup's snapshot. */
    tables: z.record(z.string(), z.number().int().min(0)),
    /** Every tenant's audit chain head at backup time. */
    auditChainHeads: z.array(z.object({ tenantId: z.string(), seq: z.string(), hash: z.string() }).strict()),
    /** Objects and tenant backups: how many objects and bytes were copied, from where to where. */
    objects: z
      .object({
        count: z.number().int().min(0),
        bytes: z.number().int().min(0),
        /** Where the copies are in the backup bucket (`{env}/{id}/objects/`), each under its own key. */
        prefix: z.string(),
        /** What was copied: `{bucket}/tenant/` or one tenant's `{bucket}/tenant/{id}/`. */
        source: z.string().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type ManifestBody = z.infer<typeof manifestBodySchema>;
export type ManifestObjects = NonNullable<ManifestBody['objects']>;

export const manifestSchema = manifestBodySchema
  .extend({ signature: z.object({ alg: z.literal('HMAC-SHA256'), keyId: z.string(), value: z.string() }).strict() })
  .strict();
export type Manifest = z.infer<typeof manifestSchema>;

export function signManifest(body: ManifestBody, keys: readonly SigningKey[]): Manifest {
  return { ...body, signature: sign(body, keys[0]!) };
}

export class ManifestError extends Error {
  constructor(
    readonly backupId: string,
    message: string,
  ) {
    super(`backup ${backupId}: manifest ${message}`);
    this.name = 'ManifestError';
  }
}

/** Parse and check a manifest's bytes: JSON, schema, id, signature. */
export function parseManifest(backupId: string, bytes: Buffer, config: Pick<Config, 'backupSigningKeys'>): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ManifestError(backupId, 'is not valid JSON');
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new ManifestError(backupId, `is malformed: ${i.path.join('.') || '(root)'} ${i.message}`);
  }
  const { signature, ...body } = parsed.data;
  if (body.id !== backupId) throw new ManifestError(backupId, `names another backup (${body.id})`);
  const outcome = verifySignature(body, signature as Signature, signingKeys(config));
  if (outcome === 'unknown-key')
    throw new ManifestError(backupId, `is signed with a key not in BACKUP_SIGNING_KEY (key id ${signature.keyId})`);
  if (outcome === 'mismatch')
    throw new ManifestError(backupId, 'signature does not match: the manifest was changed after it was signed');
  return parsed.data;
}
