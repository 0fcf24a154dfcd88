/**
 * Client addresses as the API records them: `auditAddress` turns a request's address
 * into what an audit entry can hold, and `addressGroup` is the key by which
 * per-address brute-force counters group it.
 *
 * An IPv6 client is usually given a whole /64 (one LAN, often a whole subscriber), and
 * picks addresses in it at will (privacy extensions rotate them by themselves), so
 * counting per exact IPv6 address would give it 2^64 fresh counters. IPv6 addresses
 * are therefore grouped by their /64 prefix; IPv4 addresses, which clients cannot
 * rotate so cheaply, stay per address. Only counters use the group: logs and audit
 * entries keep the real address.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { AUDIT_IP } from './contracts/audit.js';

/** Prefix length, in bits, that IPv6 addresses are grouped by. */
export const IPV6_GROUP_BITS = 64;

/**
 * The counting key for a client address: an IPv4 address as it is; an IPv6 address
 * as its /64 in canonical form (RFC 5952: lowercase, leading zeros dropped, the
 * longest run of zero groups as `::`), e.g. `2001:db8:1:2::/64`, without any zone id
 * (`%eth0`); an IPv6 address that carries an IPv4 address (IPv4-mapped
 * `::ffff:a.b.c.d`, or the NAT64/SIIT well-known prefix `64:ff9b::/96`, through which
 * IPv4 clients reach an IPv6-only server) as that IPv4 address, since it stands for
 * one IPv4 client and a /64 there would pool all of them. Anything else (not an IP
 * address) is returned unchanged, so it still counts on its own.
 */
export function addressGroup(address: string): string {
  if (isIPv4(address)) return address;
  const groups = ipv6Groups(address);
  if (!groups) return address;
  const embedded = embeddedIPv4(groups);
  if (embedded) return embedded;
  const kept = IPV6_GROUP_BITS / 16;
  return `${formatIPv6([...groups.slice(0, kept), ...Array<number>(8 - kept).fill(0)])}/${IPV6_GROUP_BITS}`;
}

/** Most characters of a non-address kept in `AuditAddress.unparsed`. */
export const UNPARSED_ADDRESS_MAX = 64;

/** A request's client address, as the audit entries the API writes itself carry it. */
export interface AuditAddress {
  /** The address, when it is one the audit contract takes (for the entry's `ip`). */
  ip?: string;
  /**
   * What arrived instead of an address (say `unknown` in X-Forwarded-For from a trusted
   * proxy): printable ASCII, anything else as `?`, at most UNPARSED_ADDRESS_MAX
   * characters. Entries put it in `metadata.ipUnparsed`.
   */
  unparsed?: string;
}

/**
 * A request's address made fit for an audit entry, so the entries the server writes
 * on its own are never refused by the contract (and lost): an IPv6 zone id is
 * dropped, an IPv4-mapped `::ffff:a.b.c.d` becomes `a.b.c.d` (as the API has always
 * recorded it), and anything still not an address goes to `unparsed`, cut short and
 * sanitised, since it came from a header. Empty or absent: neither field.
 */
export function auditAddress(raw: string | undefined): AuditAddress {
  if (raw === undefined || raw === '') return {};
  const host = withoutPort(raw);
  const zoneAt = host.indexOf('%');
  let candidate = zoneAt > 0 && isIPv6(host.slice(0, zoneAt)) ? host.slice(0, zoneAt) : host;
  if (candidate.slice(0, 7).toLowerCase() === '::ffff:' && isIPv4(candidate.slice(7))) candidate = candidate.slice(7);
  if (AUDIT_IP.safeParse(candidate).success) return { ip: candidate };
  return { unparsed: raw.replace(/[^\x20-\x7e]/gu, '?').slice(0, UNPARSED_ADDRESS_MAX) };
}

/**
 * Some proxies (Azure Application Gateway, some IIS set-ups) put the client's port in
 * X-Forwarded-For: `a.b.c.d:port`, `[v6]:port` or `[v6]`. The address is the client;
 * the port is not part of it. Kept, it made the value a non-address: the entry had no
 * `ip`, and since a client's source port changes with every connection, each new
 * connection got fresh per-address denial counters (a lockout dodged by reconnecting).
 */
function withoutPort(raw: string): string {
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(raw);
  if (v4 && isIPv4(v4[1]!)) return v4[1]!;
  const v6 = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(raw);
  if (v6 && isIPv6(v6[1]!.split('%', 1)[0]!)) return v6[1]!;
  return raw;
}

/** The counting key of an address as `auditAddress` gave it (`-` for none at all). */
export function auditAddressGroup(a: AuditAddress): string {
  return addressGroup(a.ip ?? a.unparsed ?? '-');
}

/** The eight 16-bit groups of an IPv6 address (zone id ignored), or undefined if it is not one. */
export function ipv6Groups(address: string): number[] | undefined {
  const bare = address.split('%', 1)[0] ?? '';
  if (!isIPv6(bare)) return undefined;
  const halves = bare.split('::');
  const parse = (part: string | undefined): number[] =>
    !part
      ? []
      : part.split(':').flatMap((g) => {
          if (!g.includes('.')) return [parseInt(g, 16)];
          // A trailing dotted IPv4 (`::ffff:1.2.3.4`) fills the last two groups.
          const [a = 0, b = 0, c = 0, d = 0] = g.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const head = parse(halves[0]);
  const tail = parse(halves[1]);
  return halves.length === 1 ? head : [...head, ...Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/** The IPv4 address an IPv4-mapped (`::ffff:0:0/96`) or NAT64 (`64:ff9b::/96`) address carries. */
export function embeddedIPv4(g: number[]): string | undefined {
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  const mapped = zeros(0, 5) && g[5] === 0xffff;
  const nat64 = g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6);
  if (!mapped && !nat64) return undefined;
  const [hi = 0, lo = 0] = g.slice(6);
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

/** RFC 5952 text of eight groups: the first longest run (two or more) of zeros becomes `::`. */
function formatIPv6(g: number[]): string {
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`;
}
