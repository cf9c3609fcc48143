/**
 * The egress policy as a table: which webhook URLs are refused and why. The reference is the IANA
 * special-purpose address registries (IPv4 and IPv6); `localhost` goes through the system resolver
 * (it resolves to 127.0.0.1 / ::1), other names through a planted resolver standing in for DNS.
 */
import { describe, expect, it } from 'vitest';
import { type EgressPolicy, nonPublicReason, type Resolver, resolveEndpoint } from '../src/alerts/egress.js';
import { ValidationError } from '../src/errors.js';

const strict: EgressPolicy = { allowHosts: [], allowPrivate: false, allowHttp: false };
const planted: Record<string, string[]> = {
  'hooks.partner.example': ['93.184.216.34'],
  'v6.partner.example': ['2606:4700::1111'],
  'rebind.partner.example': ['93.184.216.34', '10.0.0.7'],
  'metadata.partner.example': ['169.254.169.254'],
  'mapped.partner.example': ['::ffff:127.0.0.1'],
};
const resolver: Resolver = async (host) => {
  if (host === 'localhost') return [{ address: '127.0.0.1', family: 4 }];
  const a = planted[host];
  if (!a) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  return a.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

describe('resolveEndpoint refuses', () => {
  it.each([
    ['http without allowHttp', 'http://hooks.partner.example/h', /expected an https URL/],
    ['another scheme', 'ftp://hooks.partner.example/h', /expected an https URL/],
    ['not a URL', 'hooks.partner.example/h', /not an absolute URL/],
    ['credentials', 'https://u:p@hooks.partner.example/h', /credentials/],
    ['a fragment', 'https://hooks.partner.example/h#x', /fragment/],
    ['an unknown host', 'https://nowhere.partner.example/h', /does not resolve \(ENOTFOUND\)/],
    [
      'a name resolving to private among public (rebinding)',
      'https://rebind.partner.example/',
      /10\.0\.0\.7, a private/,
    ],
    ['a name resolving to the metadata address', 'https://metadata.partner.example/', /link-local/],
    [
      'a name resolving to mapped loopback',
      'https://mapped.partner.example/',
      /IPv4-mapped 127\.0\.0\.1: loopback/,
    ],
    ['127.0.0.1', 'https://127.0.0.1/h', /loopback/],
    ['127.1.2.3', 'https://127.1.2.3/h', /loopback/],
    ['0.0.0.0', 'https://0.0.0.0/h', /unspecified/],
    ['10/8', 'https://10.1.2.3/', /private/],
    ['172.16/12', 'https://172.31.255.255/', /private/],
    ['192.168/16', 'https://192.168.0.1/', /private/],
    ['169.254.169.254', 'https://169.254.169.254/latest/meta-data/', /link-local/],
    ['CGNAT', 'https://100.64.0.1/', /carrier-grade NAT/],
    ['multicast v4', 'https://224.0.0.1/', /multicast/],
    ['broadcast', 'https://255.255.255.255/', /reserved or broadcast/],
    ['decimal integer form of 127.0.0.1', 'https://2130706433/', /loopback/],
    ['hex form of 127.0.0.1', 'https://0x7f000001/', /loopback/],
    ['::1', 'https://[::1]/', /loopback/],
    ['::', 'https://[::]/', /unspecified/],
    ['::ffff:127.0.0.1', 'https://[::ffff:127.0.0.1]/', /IPv4-mapped 127\.0\.0\.1: loopback/],
    ['::ffff:7f00:1 (hex mapped)', 'https://[::ffff:7f00:1]/', /IPv4-mapped 127\.0\.0\.1/],
    ['::ffff:169.254.169.254', 'https://[::ffff:169.254.169.254]/', /link-local/],
    ['::ffff:10.0.0.1', 'https://[::ffff:10.0.0.1]/', /private/],
    ['NAT64 of 192.168.1.1', 'https://[64:ff9b::c0a8:101]/', /NAT64 192\.168\.1\.1: private/],
    ['6to4 of 10.0.0.1', 'https://[2002:a00:1::]/', /6to4 10\.0\.0\.1: private/],
    ['fe80:: link-local', 'https://[fe80::1]/', /link-local/],
    ['fc00::/7 unique-local', 'https://[fd12:3456::1]/', /unique-local/],
    ['ff02::1 multicast', 'https://[ff02::1]/', /multicast/],
    ['2001:db8:: documentation', 'https://[2001:db8::1]/', /documentation/],
  ])('%s', async (_name, url, reason) => {
    const p = resolveEndpoint(url, strict, resolver);
    await expect(p).rejects.toThrow(ValidationError);
    await expect(p).rejects.toThrow(reason);
    await expect(p).rejects.toThrow(url.slice(0, 20));
  });

  it('localhost through the system resolver', async () => {
    await expect(resolveEndpoint('https://localhost:8443/h', strict)).rejects.toThrow(
      /localhost resolves to (127\.0\.0\.1|::1), a loopback address/,
    );
  });

  it.each([
    [
      'exact list, other host',
      ['hooks.partner.example'],
      'https://v6.partner.example/',
      /not on the operator's allow list/,
    ],
    [
      'suffix does not admit the bare suffix',
      ['*.partner.example'],
      'https://partner.example/',
      /allow list/,
    ],
    [
      'suffix does not admit a look-alike',
      ['*.partner.example'],
      'https://evilpartner.example/',
      /allow list/,
    ],
  ])('a host off the allow list: %s', async (_name, allowHosts, url, reason) => {
    await expect(resolveEndpoint(url, { ...strict, allowHosts }, resolver)).rejects.toThrow(reason);
  });
});

describe('resolveEndpoint admits', () => {
  it.each([
    ['a public name', 'https://hooks.partner.example/h', strict, '93.184.216.34', 4],
    ['a public IPv6 name', 'https://v6.partner.example/h', strict, '2606:4700::1111', 6],
    ['a public literal', 'https://93.184.216.34:8443/h', strict, '93.184.216.34', 4],
    ['a public IPv6 literal', 'https://[2606:4700::1111]/h', strict, '2606:4700::1111', 6],
    [
      'a listed suffix',
      'https://hooks.partner.example/',
      { ...strict, allowHosts: ['*.partner.example'] },
      '93.184.216.34',
      4,
    ],
    [
      'a listed exact name',
      'https://HOOKS.partner.example/',
      { ...strict, allowHosts: ['hooks.partner.example'] },
      '93.184.216.34',
      4,
    ],
    [
      'loopback http when allowed',
      'http://127.0.0.1:9999/h',
      { allowHosts: [], allowPrivate: true, allowHttp: true },
      '127.0.0.1',
      4,
    ],
    ['localhost when allowed', 'https://localhost/h', { ...strict, allowPrivate: true }, '127.0.0.1', 4],
  ] as [string, string, EgressPolicy, string, 4 | 6][])('%s', async (_name, url, policy, address, family) => {
    const r = await resolveEndpoint(url, policy, resolver);
    expect(r.address).toBe(address);
    expect(r.family).toBe(family);
    expect(r.url.href).toBe(new URL(url).href);
  });

  it('nonPublicReason leaves public addresses alone', () => {
    for (const a of [
      '8.8.8.8',
      '1.1.1.1',
      '100.128.0.1',
      '172.32.0.1',
      '2606:4700::1111',
      '2a00:1450::1',
      '::ffff:8.8.8.8',
    ]) {
      expect(nonPublicReason(a), a).toBeNull();
    }
  });
});
