import ipaddr from 'ipaddr.js';

/** An address as people write it: an IPv4-mapped IPv6 address (`::ffff:203.0.113.9`, what a dual-stack socket reports) as its IPv4 one. */
export function plainAddress(address: string | undefined): string | undefined {
  return address !== undefined && ipaddr.isValid(address) ? ipaddr.process(address).toString() : address;
}

/**
 * The client an address belongs to, for limits per client: an IPv4 address itself, an IPv6 address's
 * /64 (one subscriber's network, whose addresses its owner can rotate through freely).
 */
export function clientOf(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const ip = ipaddr.process(address); // an IPv4-mapped IPv6 address is its IPv4 one
  return ip.kind() === 'ipv6' ? `${(ip as ipaddr.IPv6).parts.slice(0, 4).map((p) => p.toString(16)).join(':')}::/64` : ip.toString();
}
