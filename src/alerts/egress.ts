/**
 * Where webhooks may go. An endpoint URL is allowed when it is https (http only where the operator
 * allows it), carries no credentials, names a host on the operator's list (exact names or
 * `*.suffix`, an empty list allows every public host), and every address its host resolves to is
 * public: loopback, private (RFC 1918), link-local (169.254.0.0/16, which holds the cloud metadata
 * address 169.254.169.254; fe80::/10), CGNAT (100.64.0.0/10), unique-local (fc00::/7), unspecified,
 * multicast, broadcast, reserved and IPv4-mapped or -translated forms of those are refused unless
 * `allowPrivate`. The caller connects to the returned address, not to the name again, so a DNS
 * answer that changes between the check and the connection (rebinding) cannot move the request.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { ValidationError } from '../errors.js';

export interface EgressPolicy {
  /** Host names allowed: exact ('hooks.example.org') or '*.example.org' (any subdomain). Empty: any. */
  allowHosts: string[];
  /** Allow loopback, private, link-local and other non-public addresses (tests, on-premises). */
  allowPrivate: boolean;
  /** Allow http: URLs (tests); otherwise https only. */
  allowHttp: boolean;
}

export interface ResolvedEndpoint {
  url: URL;
  /** The address to connect to. */
  address: string;
  family: 4 | 6;
}

export type Resolver = (host: string) => Promise<{ address: string; family: number }[]>;

const defaultResolver: Resolver = (host) => lookup(host, { all: true, verbatim: true });

const NON_PUBLIC_V4: [string, number, string][] = [
  ['0.0.0.0', 8, 'unspecified ("this network")'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved or broadcast'],
];

const NON_PUBLIC_V6: [string, number, string][] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['64:ff9b:1::', 48, 'local NAT64'],
  ['100::', 64, 'discard'],
  ['2001:db8::', 32, 'documentation'],
  ['2001::', 23, 'IETF protocol assignments'],
  ['fc00::', 7, 'unique-local'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local'],
  ['ff00::', 8, 'multicast'],
];

/** Why an address is not public, or null when it is. IPv4-embedding IPv6 forms are judged on the IPv4. */
export function nonPublicReason(address: string): string | null {
  const family = isIP(address);
  if (family === 4) return reasonV4(address);
  if (family !== 6) return 'not an IP address';
  const embedded = embeddedV4(address);
  if (embedded !== null) {
    const r = reasonV4(embedded.v4);
    return r === null ? null : `${embedded.kind} ${embedded.v4}: ${r}`;
  }
  for (const [net, prefix, reason] of NON_PUBLIC_V6) {
    if (inSubnet(address, net, prefix, 'ipv6')) return reason;
  }
  return null;
}

function reasonV4(address: string): string | null {
  for (const [net, prefix, reason] of NON_PUBLIC_V4) {
    if (inSubnet(address, net, prefix, 'ipv4')) return reason;
  }
  return null;
}

function inSubnet(address: string, net: string, prefix: number, type: 'ipv4' | 'ipv6'): boolean {
  const list = new BlockList();
  list.addSubnet(net, prefix, type);
  return list.check(address, type);
}

/** The 16 bytes of an IPv6 address (with '::' and a dotted IPv4 tail expanded). */
function v6Bytes(address: string): number[] {
  let text = address.toLowerCase();
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail?.[1]) {
    const [a, b, c, d] = tail[1].split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, -tail[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const r = rest === undefined ? [] : rest ? rest.split(':') : [];
  const groups = rest === undefined ? h : [...h, ...Array(8 - h.length - r.length).fill('0'), ...r];
  const bytes: number[] = [];
  for (const g of groups) {
    const v = Number.parseInt(g, 16);
    bytes.push((v >> 8) & 0xff, v & 0xff);
  }
  return bytes;
}

/** IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96), 6to4 (2002::/16). */
function embeddedV4(address: string): { kind: string; v4: string } | null {
  const b = v6Bytes(address);
  const v4 = (o: number) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return { kind: 'IPv4-mapped', v4: v4(12) };
  if (zero(0, 8) && b[8] === 0xff && b[9] === 0xff && zero(10, 12))
    return { kind: 'IPv4-translated', v4: v4(12) };
  if (zero(0, 12) && !zero(12, 16) && !(zero(12, 15) && b[15] === 1))
    return { kind: 'IPv4-compatible', v4: v4(12) };
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12))
    return { kind: 'NAT64', v4: v4(12) };
  if (b[0] === 0x20 && b[1] === 0x02) return { kind: '6to4', v4: v4(2) };
  return null;
}

/** Whether a host name is on the allow list (exact, or '*.suffix' for any name below suffix). */
export function hostAllowed(host: string, allowHosts: string[]): boolean {
  if (allowHosts.length === 0) return true;
  const h = host.toLowerCase().replace(/\.$/, '');
  return allowHosts.some((pattern) => {
    const p = pattern.toLowerCase().replace(/\.$/, '');
    if (p.startsWith('*.')) return h.endsWith(p.slice(1)) && h.length > p.length - 1;
    return h === p;
  });
}

/**
 * Checks a webhook endpoint URL against the policy and resolves it; the caller connects to the
 * returned address. Throws ValidationError naming the URL and the reason.
 */
export async function resolveEndpoint(
  url: string,
  policy: EgressPolicy,
  resolver: Resolver = defaultResolver,
): Promise<ResolvedEndpoint> {
  const refuse = (reason: string): never => {
    throw new ValidationError(`webhook URL ${JSON.stringify(url)}: ${reason}`);
  };
  if (typeof url !== 'string' || url.length === 0) refuse('expected an absolute https URL');
  if (url.length > 2048) refuse('longer than 2048 characters');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return refuse('not an absolute URL');
  }
  if (parsed.protocol !== 'https:' && !(policy.allowHttp && parsed.protocol === 'http:')) {
    refuse(policy.allowHttp ? 'expected an http or https URL' : 'expected an https URL');
  }
  if (parsed.username || parsed.password) refuse('credentials in the URL are not allowed');
  if (parsed.hash) refuse('a fragment (#...) is not allowed');
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  if (!host) refuse('no host');
  if (!hostAllowed(host, policy.allowHosts)) refuse(`host ${host} is not on the operator's allow list`);
  let addresses: { address: string; family: number }[];
  if (isIP(host)) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    try {
      addresses = await resolver(host);
    } catch (err) {
      return refuse(
        `host ${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
    }
    if (addresses.length === 0) refuse(`host ${host} does not resolve`);
  }
  if (!policy.allowPrivate) {
    for (const a of addresses) {
      const reason = nonPublicReason(a.address);
      if (reason !== null) refuse(`host ${host} resolves to ${a.address}, a ${reason} address`);
    }
  }
  const first = addresses[0] as { address: string; family: number };
  return { url: parsed, address: first.address, family: first.family === 6 ? 6 : 4 };
}
