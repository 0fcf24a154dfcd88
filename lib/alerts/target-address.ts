/**
 * Which addresses an alert channel may send to. Webhook URLs and Slack webhook URLs
 * are chosen by tenants, and the workers POST to them from inside the deployment: a
 * target on loopback, a private network, link-local (169.254.169.254, the cloud
 * metadata service) and the like would let any tenant make Bulwark send requests to
 * internal hosts (SSRF). Unless ALERT_TARGETS_ALLOW_PRIVATE is true, such targets are
 * refused: literal addresses and `localhost` when a channel is added, and every
 * address a host name resolves to when sending (workers/alert/sending/channels/guarded-post.ts),
 * since DNS can change after the channel was added.
 */
import { BlockList, isIP } from 'node:net';
import { embeddedIPv4, ipv6Groups } from '../net-address.js';

export const ALLOW_PRIVATE_VARIABLE = 'ALERT_TARGETS_ALLOW_PRIVATE';

/** Ranges no public service lives in, with what they are, for the refusal's text. */
const RANGES: ReadonlyArray<[net: string, bits: number, type: 'ipv4' | 'ipv6', what: string]> = [
  ['0.0.0.0', 8, 'ipv4', 'an unspecified ("this network") address'],
  ['10.0.0.0', 8, 'ipv4', 'a private (RFC 1918) address'],
  ['100.64.0.0', 10, 'ipv4', 'a shared (carrier-grade NAT) address'],
  ['127.0.0.0', 8, 'ipv4', 'a loopback address'],
  ['169.254.0.0', 16, 'ipv4', 'a link-local address (cloud metadata lives there)'],
  ['172.16.0.0', 12, 'ipv4', 'a private (RFC 1918) address'],
  ['192.0.0.0', 24, 'ipv4', 'a reserved (IETF protocol) address'],
  ['192.0.2.0', 24, 'ipv4', 'a documentation address'],
  ['192.88.99.0', 24, 'ipv4', 'a reserved (6to4 relay) address'],
  ['192.168.0.0', 16, 'ipv4', 'a private (RFC 1918) address'],
  ['198.18.0.0', 15, 'ipv4', 'a reserved (benchmarking) address'],
  ['198.51.100.0', 24, 'ipv4', 'a documentation address'],
  ['203.0.113.0', 24, 'ipv4', 'a documentation address'],
  ['224.0.0.0', 4, 'ipv4', 'a multicast address'],
  ['240.0.0.0', 4, 'ipv4', 'a reserved address'],
  ['::', 128, 'ipv6', 'an unspecified address'],
  ['::1', 128, 'ipv6', 'a loopback address'],
  // IPv4-compatible (deprecated) and anything else under ::/96 but the two above.
  ['::', 96, 'ipv6', 'a reserved address'],
  ['64:ff9b:1::', 48, 'ipv6', 'a local-use NAT64 address'],
  ['100::', 64, 'ipv6', 'a discard-only address'],
  ['2001::', 23, 'ipv6', 'a reserved (IETF protocol, Teredo, benchmarking) address'],
  ['2001:db8::', 32, 'ipv6', 'a documentation address'],
  ['3fff::', 20, 'ipv6', 'a documentation address'],
  ['fc00::', 7, 'ipv6', 'a unique-local address'],
  ['fe80::', 10, 'ipv6', 'a link-local address'],
  ['fec0::', 10, 'ipv6', 'a site-local address'],
  ['ff00::', 8, 'ipv6', 'a multicast address'],
];

const lists = RANGES.map(([net, bits, type, what]) => {
  const list = new BlockList();
  list.addSubnet(net, bits, type);
  return { list, what };
});

/**
 * Why `ip` is not a public unicast address, or undefined when it is (or is no IP
 * address at all). An IPv6 address that carries an IPv4 one (IPv4-mapped, NAT64,
 * 6to4) is judged by that IPv4 address, since that is where the packets end up.
 */
export function blockedAddress(ip: string): string | undefined {
  const bare = ip.replace(/^\[|\]$/g, '').split('%', 1)[0] ?? '';
  const family = isIP(bare);
  if (family === 0) return undefined;
  if (family === 6) {
    const groups = ipv6Groups(bare) ?? [];
    // 2000::/3 is the only global unicast space; outside it only the embedding forms remain.
    const sixToFour = groups[0] === 0x2002 ? `${groups[1]! >> 8}.${groups[1]! & 0xff}.${groups[2]! >> 8}.${groups[2]! & 0xff}` : undefined;
    const inner = embeddedIPv4(groups) ?? sixToFour;
    if (inner) return blockedAddress(inner);
    if ((groups[0]! & 0xe000) !== 0x2000 && !lists.some((l) => l.list.check(bare, 'ipv6'))) return 'outside the global unicast space (2000::/3)';
  }
  return lists.find((l) => l.list.check(bare, family === 4 ? 'ipv4' : 'ipv6'))?.what;
}

/** Names that always mean this machine, whatever DNS says (RFC 6761). */
export function isLocalhostName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost');
}

/**
 * Why a target URL's host is refused without asking DNS: a literal address that is not
 * public, or a localhost name. Undefined for anything else (a host name is judged at
 * send time) and for a string that is not a URL.
 */
export function literalTargetProblem(url: string): string | undefined {
  if (!URL.canParse(url)) return undefined;
  const host = new URL(url).hostname;
  const why = isLocalhostName(host) ? 'a loopback name' : blockedAddress(host);
  return why && `its host ${host} is ${why}; alert targets must be public unless ${ALLOW_PRIVATE_VARIABLE}=true`;
}
