/**
 * What the alert worker's code works with: one type, built once per process by
 * createAlertDeps (index.ts) and shared by the alert and alert-delivery processors.
 * Functions take all of it (or a Pick where a test passes less).
 */
import type pg from 'pg';
import type { Queue } from 'bullmq';
import type { AlertDecider } from '../../lib/alerts/decide.js';
import type { PrismaClient } from '../../lib/clients/prisma.js';
import type { MasterKeys } from '../../lib/crypto/master-keys.js';
import type { Logger } from '../../lib/logger.js';
import type { Metrics } from '../../lib/metrics.js';
import type { GuardedPost } from './sending/channels/guarded-post.js';
import type { SendOptions } from './sending/channels/send.js';
import type { ChannelPauses } from './sending/pause.js';
import type { ChannelSlots } from './sending/slots.js';
import type { ChannelsFor } from './stores/channels.js';
import type { LedgerStore } from './stores/ledger-store.js';
import type { PolicyInputsOf } from './stores/policy.js';

export interface AlertDeps {
  prisma: PrismaClient;
  /** The shared pool, for reads that skip Prisma (channels of queued deliveries). */
  pg: Pick<pg.Pool, 'query'>;
  /** Batched ledger statements (one store per worker process). */
  ledger: LedgerStore;
  logger: Logger;
  metrics: Metrics;
  clock: () => Date;
  keys: MasterKeys;
  decider: AlertDecider;
  /** The alert-delivery queue, where sends, flushes and digests are handed. */
  deliveries: Queue;
  /** The tenant's enabled channels for a severity, read now (batched with other jobs). */
  channelsFor: ChannelsFor;
  /** The tenant's settings and time zone, read for this alert (stores/policy.ts). */
  policyInputsOf: PolicyInputsOf;
  /** Channels a receiver asked to slow down (429), shared by every worker process. */
  pauses: ChannelPauses;
  /** Sends in flight per channel in this process (sending/slots.ts). */
  slots: ChannelSlots;
  /** Webhook and Slack POSTs with this process's keep-alive pools; closed at stop (the alert drain). */
  http: GuardedPost;
  /** Options passed to the channel senders (timeout, Telegram base URL, webhook body limit, private targets). */
  send?: Pick<SendOptions, 'timeoutMs' | 'telegramBaseUrl' | 'webhookMaxBodyBytes' | 'allowPrivateTargets'>;
}

export interface AlertWorkerOptions {
  /** Passed to the channel senders; tests point Telegram at a local server. */
  send?: AlertDeps['send'];
}

/** What a ledger change is logged with besides the alert ids (never stored: log fields only). */
export interface AlertLogFields {
  tenantId: string;
  type?: string;
  severity?: string;
  userId?: string | null;
}
