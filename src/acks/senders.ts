import { BlockList, isIP } from 'node:net';
import type { MshHeader } from '../hl7/header.js';

/** `*` matches any run of characters; everything else literally. */
function glob(pattern: string): RegExp {
  return new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
}

const cache = new Map<string, RegExp>();

function compiled(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (!re) {
    re = glob(pattern);
    cache.set(pattern, re);
  }
  return re;
}

/**
 * The sender allow-list on MSH-3 and MSH-4: each entry is `APP|FAC`, `APP` (any facility) or uses
 * `*` wildcards (`LAB*|*`). MSH-3/4 are compared on their first component (HD namespace id).
 */
export function senderAllowed(h: MshHeader, patterns: readonly string[]): boolean {
  const comp = h.encodingChars[0] ?? '^';
  const app = h.sendingApplication.split(comp)[0] ?? '';
  const fac = h.sendingFacility.split(comp)[0] ?? '';
  for (const p of patterns) {
    const [pa = '*', pf = '*'] = p.split('|');
    if (compiled(pa).test(app) && compiled(pf).test(fac)) return true;
  }
  return false;
}

/**
 * Source addresses allowed to connect: IPs and CIDR ranges (`10.0.0.0/8`, `::1`, `fd00::/8`). An
 * empty list allows every address. IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`) match IPv4 rules.
 */
export function addressAllowList(entries: readonly string[]): (address: string | undefined) => boolean {
  if (entries.length === 0) return () => true;
  const list = new BlockList();
  for (const e of entries) {
    const [ip = '', bits] = e.split('/');
    const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (isIP(ip) === 0) throw new Error(`not an IP address or CIDR range: ${e}`);
    if (bits === undefined) list.addAddress(ip, family);
    else list.addSubnet(ip, Number(bits), family);
  }
  return (address) => {
    if (!address) return false;
    const v4 = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : undefined;
    if (v4) return list.check(v4, 'ipv4');
    const kind = isIP(address);
    return kind !== 0 && list.check(address, kind === 6 ? 'ipv6' : 'ipv4');
  };
}
