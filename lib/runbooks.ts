/**
 * Runbook pages of the alerts Bulwark raises itself (as alert jobs, not Prometheus
 * rules; those name their pages in dashboards/prometheus/rules.yml). Kept in one table
 * so the docs test can check that every page named here exists in docs/runbooks/.
 */
import { RUNBOOK_URL, RUNBOOK_URL_MAX } from './contracts/alert.js';
import { isStorableText } from './contracts/common.js';

/** Page (file name in docs/runbooks/, without .md) per self-raised alert type. */
export const SELF_RAISED_RUNBOOKS = {
  /** api/denials.ts: more than 10 API key denials in an hour. */
  'security:api-key-denial-burst': 'security-api-key-denial-burst',
  /** api/operator-denials.ts: more than 10 wrong operator sign-ins in an hour from one address. */
  'security:operator-auth-denial-burst': 'security-operator-auth-denial-burst',
} as const satisfies Record<string, string>;

/** Any other high or critical `security:*` audit entry (written by application code). */
export const SECURITY_EVENT_RUNBOOK = 'security-event';

/** The runbook page for an alert raised from a `security:*` audit entry. */
export function runbookPageFor(action: string): string {
  return Object.hasOwn(SELF_RAISED_RUNBOOKS, action) ? SELF_RAISED_RUNBOOKS[action as keyof typeof SELF_RAISED_RUNBOOKS] : SECURITY_EVENT_RUNBOOK;
}

/**
 * The absolute link for an alert, or undefined without a base URL: the alert contract
 * takes only http(s) URLs, so a relative docs/ path would make the alert invalid.
 */
export function runbookUrlFor(baseUrl: string | undefined, action: string): string | undefined {
  return baseUrl ? linkTo(baseUrl, runbookPageFor(action)) : undefined;
}

function linkTo(baseUrl: string, page: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${page}.md`;
}

/** Every page named by code, for the docs test. */
export const SELF_RAISED_RUNBOOK_PAGES: readonly string[] = [...new Set([...Object.values(SELF_RAISED_RUNBOOKS), SECURITY_EVENT_RUNBOOK])];

/**
 * Most characters of a runbook base URL (without trailing slashes): its longest link
 * must still pass the alert contract (RUNBOOK_URL_MAX). A longer base was accepted,
 * and every alert raised with it was then refused as invalid and lost.
 */
export const RUNBOOK_BASE_URL_MAX = RUNBOOK_URL_MAX - Math.max(...SELF_RAISED_RUNBOOK_PAGES.map((page) => `/${page}.md`.length));

/** Why `baseUrl` cannot make valid runbook links, or undefined when it can (checked at start-up and by the producer). */
export function runbookBaseUrlProblem(baseUrl: string): string | undefined {
  if (baseUrl.replace(/\/+$/, '').length > RUNBOOK_BASE_URL_MAX) return `must be at most ${RUNBOOK_BASE_URL_MAX} characters, so its links fit ${RUNBOOK_URL_MAX}`;
  if (!isStorableText(baseUrl)) return 'must not contain NUL characters or unpaired surrogates';
  // The URL parser drops spaces and C0 controls at the ends of a URL, not inside one:
  // "https://x.example " passed as a base, and every link made from it was refused.
  // A base that is not such a URL itself is the URL check's to report.
  if (RUNBOOK_URL.safeParse(baseUrl).success && SELF_RAISED_RUNBOOK_PAGES.some((page) => !RUNBOOK_URL.safeParse(linkTo(baseUrl, page)).success)) {
    return 'makes runbook links that are not valid URLs (look for a space or control character at its end)';
  }
  return undefined;
}

/** runbookBaseUrlProblem as a zod refinement, for RUNBOOK_BASE_URL and the producer's runbookBaseUrl. */
export function refineRunbookBaseUrl(baseUrl: string, ctx: { addIssue(issue: { code: 'custom'; message: string }): void }): void {
  const problem = runbookBaseUrlProblem(baseUrl);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
}
