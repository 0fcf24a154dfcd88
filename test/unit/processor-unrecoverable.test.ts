// processAuditWrite with a payload that can never succeed fails with bullmq's
// UnrecoverableError naming the reason, and nothing reaches the committer (whose
// commit throws if it is ever called). Pure: no Redis, no Postgres. What the committer
// does with valid entries against Postgres (an unknown tenant, duplicates) is checked
// in test/integration/audit/flow.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UnrecoverableError } from 'bullmq';
import type { CommitOutcome } from '../../lib/audit/store.js';
import type { EncodedEntry } from '../../lib/audit/encode.js';
import { createLogger } from '../../lib/logger.js';
import { createMetrics } from '../../lib/metrics.js';
import { createGroupCommitter } from '../../workers/audit/group-commit.js';
import { processAuditWrite, type AuditWriteContext } from '../../workers/audit/processor.js';
import { captureLogs } from '../helpers/env.js';

const TENANT = '6f1c2a4e-1b2c-4d3e-8f40-123456789abc';

const goodEntry = (over: Record<string, unknown> = {}) => ({
  tenantId: TENANT,
  eventId: 'evt-1',
  occurredAt: '2026-01-15T09:30:00.000Z',
  actorType: 'user',
  actorId: 'u1',
  action: 'task:completed',
  resourceType: 'task',
  ...over,
});

/** A context whose committer counts calls and throws if commit is ever reached. */
function context() {
  let commits = 0;
  const committer = createGroupCommitter<EncodedEntry>({
    maxBatch: 100,
    isTransient: () => false,
    commit: async (): Promise<CommitOutcome[]> => {
      commits++;
      throw new Error('commit must not be called for an invalid payload');
    },
  });
  const ctx: AuditWriteContext = { committer, logger: createLogger({ env: 'dev', logLevel: 'warn' }, captureLogs().stream), metrics: createMetrics() };
  return { ctx, commits: () => commits };
}

async function failure(data: unknown, ctx: AuditWriteContext): Promise<Error> {
  try {
    await processAuditWrite(data, ctx, { id: 'job-1' });
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected processAuditWrite to throw');
}

const CASES: Array<[what: string, data: unknown, reason: RegExp[]]> = [
  ['a future payload version', { v: 2, entries: [goodEntry()] }, [/^invalid audit-write payload/, /\bv\b/]],
  ['no version', { entries: [goodEntry()] }, [/\bv\b/]],
  ['missing entries', { v: 1 }, [/entries/]],
  ['entries not an array', { v: 1, entries: 'nope' }, [/entries/]],
  ['no entries', { v: 1, entries: [] }, [/entries: must hold at least one entry/]],
  ['too many entries', { v: 1, entries: Array.from({ length: 1001 }, (_, i) => goodEntry({ eventId: `e-${i}` })) }, [/entries: must hold at most 1000 entries/]],
  ['a bad actorType', { v: 1, entries: [goodEntry({ actorType: 'robot' })] }, [/entries\.0\.actorType: must be one of user, service, ai, system/]],
  ['a bad field in the third entry', { v: 1, entries: [goodEntry(), goodEntry(), goodEntry({ tenantId: 'not-a-uuid' })] }, [/entries\.2\.tenantId: must be a UUID/]],
  ['a missing eventId (the producer always sets one)', { v: 1, entries: [goodEntry({ eventId: undefined })] }, [/entries\.0\.eventId/]],
  ['a missing occurredAt', { v: 1, entries: [goodEntry({ occurredAt: undefined })] }, [/entries\.0\.occurredAt/]],
  ['an ai actor without reason and confidence', { v: 1, entries: [goodEntry({ actorType: 'ai' })] }, [/entries\.0\.reason/, /entries\.0\.confidence/]],
  ['a security action without severity', { v: 1, entries: [goodEntry({ action: 'security:auth-failed' })] }, [/entries\.0\.severity/]],
  ['an unknown field', { v: 1, entries: [goodEntry({ colour: 'red' })] }, [/entries\.0/, /colour/]],
  ['an unknown top-level field', { v: 1, entries: [goodEntry()], extra: true }, [/extra/]],
  ['a NUL character', { v: 1, entries: [goodEntry({ resourceId: 'a\u0000b' })] }, [/entries\.0\.resourceId: must not contain NUL/]],
  ['a lone surrogate in state', { v: 1, entries: [goodEntry({ before: { k: 'x\ud800' } })] }, [/entries\.0\.before/]],
  ['null', null, [/^invalid audit-write payload/]],
  ['a string', 'v1', [/^invalid audit-write payload/]],
];

for (const [what, data, reasons] of CASES) {
  test(`unrecoverable: ${what}`, async () => {
    const { ctx, commits } = context();
    const err = await failure(data, ctx);
    assert.instance(err, UnrecoverableError, `${what}: ${err.message}`);
    for (const r of reasons) assert.match(err.message, r);
    await ctx.committer.drain();
    assert.is(commits(), 0, 'nothing reached the committer');
  });
}

test.run();
