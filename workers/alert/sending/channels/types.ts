/** What the channel senders take and return. */

export interface AlertMessage {
  tenantId: string;
  alertIds: string[];
  title: string;
  /** Plain text; each sender escapes it for its own format. */
  text: string;
  severity: string;
  runbookUrl?: string;
  /** Every alert of the message (one for a single alert), as data. */
  items?: Array<{ id: string; type: string; severity: string; title: string; occurredAt: string; labels: Record<string, string>; runbookUrl: string | null }>;
}

export interface ChannelTarget {
  type: 'webhook' | 'slack' | 'telegram';
  /** webhook: the URL to POST to. */
  url?: string;
  /** telegram: the chat id. */
  chatId?: string;
}

export type SendResult =
  | { ok: true; status: number }
  | {
      ok: false;
      status?: number;
      retryable: boolean;
      retryAfterMs?: number;
      error: string;
      /**
       * A channel that cannot work as configured: its credential (`credential`) or its target
       * (`misconfigured`), including a URL refused as internal (ALERT_TARGETS_ALLOW_PRIVATE). No request was made.
       */
      reason?: 'credential' | 'misconfigured';
    };
