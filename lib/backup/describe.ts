/**
 * The environment facts a manifest records besides the data: Bulwark's version and
 * its configuration with every secret value replaced by "(set)" and credentials
 * masked in URLs, so a manifest can be read by anyone who may list the bucket.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config.js';
import { maskUrlCredentials } from '../redact.js';

let version: string | undefined;
export function bulwarkVersion(): string {
  // ../../ from the sources, ../../../ from the compiled dist/lib/backup/.
  for (const up of ['../../package.json', '../../../package.json']) {
    if (version) break;
    try {
      const pkg = JSON.parse(readFileSync(fileURLToPath(new URL(up, import.meta.url)), 'utf8')) as { name?: string; version: string };
      if (pkg.name === 'bulwark') version = pkg.version;
    } catch {
      // Not there: try the next.
    }
  }
  return version ?? 'unknown';
}

const SECRET_FIELDS = new Set(['masterKeys', 'metricsToken', 'operator', 'backupKeys', 'backupSigningKeys', 'secretKey', 'accessKey']);

/** The configuration without secret values (nested objects, such as storage, too). */
export function publicConfig(config: Config): Record<string, unknown> {
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return maskUrlCredentials(value);
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, SECRET_FIELDS.has(k) ? (v === undefined ? undefined : '(set)') : walk(v)]),
      );
    }
    return value;
  };
  return walk(config) as Record<string, unknown>;
}
