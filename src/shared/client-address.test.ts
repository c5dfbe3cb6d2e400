import { clientOf, plainAddress } from './client-address.js';

describe('plainAddress', () => {
  it('writes an IPv4-mapped address as IPv4, and leaves other addresses and non-addresses as they are', () => {
    expect(plainAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(plainAddress('203.0.113.9')).toBe('203.0.113.9');
    expect(plainAddress('2001:db8::1')).toBe('2001:db8::1');
    expect(plainAddress('unknown')).toBe('unknown');
    expect(plainAddress(undefined)).toBeUndefined();
  });
});

describe('clientOf', () => {
  it('is an IPv4 address itself, also when written IPv4-mapped', () => {
    expect(clientOf('203.0.113.9')).toBe('203.0.113.9');
    expect(clientOf('::ffff:203.0.113.9')).toBe('203.0.113.9');
  });

  it("is an IPv6 address's /64, however the address is written", () => {
    expect(clientOf('2001:db8:1:2::a')).toBe('2001:db8:1:2::/64');
    expect(clientOf('2001:0db8:0001:0002:ffff:0:0:1')).toBe('2001:db8:1:2::/64');
    expect(clientOf('2001:db8:1:3::a')).not.toBe(clientOf('2001:db8:1:2::a'));
    expect(clientOf('::1')).toBe('0:0:0:0::/64');
  });

  it('is anything else as given (a unix socket has no address)', () => {
    expect(clientOf('')).toBe('');
    expect(clientOf('not an address')).toBe('not an address');
  });
});
