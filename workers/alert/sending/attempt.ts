/**
 * One delivery attempt of one message to one channel, and its ledger entry. Used by
 * the inline send in the alert job and by queued `deliver` jobs alike, so both
 * classify answers the same way: 2xx delivered; 429 paused (recorded as still
 * delivering, `alert_channel_paused` logged); network errors and 5xx retryable
 * until the last attempt (`retries_exhausted`); any other 4xx `rejected` at once.
 */
import type { AlertDeps, AlertLogFields } from '../deps.js';
import { sendToChannel } from './channels/send.js';
import type { AlertMessage } from './channels/types.js';
import { credentialOf, type ChannelRow } from '../stores/channels.js';
import { record } from '../stores/ledger.js';

export type AttemptOutcome =
  | { kind: 'delivered'; status: number }
  /** The receiver said 429: wait retryAfterMs, spending no attempt. */
  | { kind: 'paused'; status?: number; retryAfterMs: number; error: string }
  /** Retryable failure with attempts left: recorded as still delivering. */
  | { kind: 'retry'; status?: number; error: string }
  /** Final: recorded as failed with the reason. */
  | {
      kind: 'failed';
      reason: 'credential' | 'misconfigured' | 'rejected' | 'retries_exhausted';
      status?: number;
      error: string;
    };

export interface AttemptInput {
  tenantId: string;
  channel: ChannelRow;
  alertIds: string[];
  message: AlertMessage;
  context: AlertLogFields;
  /** This attempt's number, counting from 1 over the inline and queued attempts. */
  attempts: number;
  /** No attempt follows this one if it fails retryably. */
  lastAttempt: boolean;
  /** Whether a 429 can be honoured as a pause (false: treated as any retryable failure). */
  canPause: boolean;
  /** The queued job's key (deliverJobKey), kept on the channel's row with every result. */
  jobKey?: string;
  /** Release of the channel slot the caller took for this send. */
  releaseSlot: () => void;
  /**
   * Queues what follows a paused or retryable attempt, before the row is recorded as
   * still delivering (the inline send's hand-over to a `deliver` job). A queued job
   * leaves it out: BullMQ runs it again by itself.
   */
  handOver?: (next: { kind: 'paused'; retryAfterMs: number } | { kind: 'retry' }) => Promise<void>;
}

export async function attemptDelivery(deps: AlertDeps, input: AttemptInput): Promise<AttemptOutcome> {
  const { channel, alertIds, context } = input;
  const base = {
    channelId: channel.id,
    channel: channel.name,
    channelType: channel.type,
    attempts: input.attempts,
    ...(input.jobKey ? { jobKey: input.jobKey } : {}),
  };
  let result: Awaited<ReturnType<typeof sendToChannel>>;
  try {
    let credential: string;
    try {
      // Resolved at the moment of use and kept only for this call.
      credential = credentialOf(deps.keys, input.tenantId, channel);
    } catch (err) {
      const error = (err as Error).message;
      await record(deps, alertIds, { outcome: 'failed', reason: 'credential', ...base, error }, context);
      return { kind: 'failed', reason: 'credential', error };
    }
    result = await sendToChannel(
      { type: channel.type, url: channel.target, chatId: channel.target },
      credential,
      input.message,
      { ...deps.send, http: deps.http, now: deps.clock },
    );
  } finally {
    input.releaseSlot();
  }
  if (result.ok) {
    await record(
      deps,
      alertIds,
      { outcome: 'delivered', ...base, status: result.status, deliveredAt: deps.clock() },
      context,
    );
    return { kind: 'delivered', status: result.status };
  }
  if (result.retryable && result.retryAfterMs !== undefined && input.canPause) {
    // The receiver asked us to slow down: wait as told, without spending an attempt, and
    // send nothing else to the channel meanwhile (paused first, so other sends see it).
    await deps.pauses.pause(input.tenantId, channel.id, deps.clock().getTime() + result.retryAfterMs);
    await input.handOver?.({ kind: 'paused', retryAfterMs: result.retryAfterMs });
    await record(
      deps,
      alertIds,
      { outcome: 'delivering', ...base, status: result.status, error: `paused ${result.retryAfterMs} ms (429)` },
      context,
    );
    deps.logger.warn(
      {
        event: 'alert_channel_paused',
        tenant_id: input.tenantId,
        channel: channel.name,
        retry_after_ms: result.retryAfterMs,
      },
      'channel asked to slow down',
    );
    return { kind: 'paused', status: result.status, retryAfterMs: result.retryAfterMs, error: result.error };
  }
  if (result.retryable && !input.lastAttempt) {
    await input.handOver?.({ kind: 'retry' });
    await record(
      deps,
      alertIds,
      { outcome: 'delivering', ...base, status: result.status, error: result.error },
      context,
    );
    return { kind: 'retry', status: result.status, error: result.error };
  }
  const reason = result.reason ?? (result.retryable ? 'retries_exhausted' : 'rejected');
  await record(
    deps,
    alertIds,
    { outcome: 'failed', reason, ...base, status: result.status, error: result.error },
    context,
  );
  return { kind: 'failed', reason, status: result.status, error: result.error };
}
