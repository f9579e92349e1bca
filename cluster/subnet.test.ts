import { describe, expect, it } from 'vitest';
import { checkCapacity, formatSubnet, hostAddress, nodeAddress, overlaps, parseSubnet } from './subnet.ts';

describe('subnets', () => {
  it('parses CIDR, masks host bits, and reads a bare address as /32', () => {
    expect(formatSubnet(parseSubnet('10.213.7.0/24'))).toBe('10.213.7.0/24');
    expect(formatSubnet(parseSubnet('10.213.7.99/24'))).toBe('10.213.7.0/24');
    expect(formatSubnet(parseSubnet('192.0.2.1'))).toBe('192.0.2.1/32');
    for (const bad of ['10.213.7.0/33', '10.256.0.0/16', 'ten.0.0.0/8', '']) {
      expect(() => parseSubnet(bad)).toThrow(/not an IPv4 subnet/);
    }
  });

  it('detects overlap both ways and only then', () => {
    expect(overlaps(parseSubnet('10.213.0.0/16'), parseSubnet('10.213.7.0/24'))).toBe(true);
    expect(overlaps(parseSubnet('10.213.7.0/24'), parseSubnet('10.213.0.0/16'))).toBe(true);
    expect(overlaps(parseSubnet('10.213.7.0/24'), parseSubnet('10.213.8.0/24'))).toBe(false);
    expect(overlaps(parseSubnet('127.0.0.0/8'), parseSubnet('127.0.0.0/24'))).toBe(true);
  });

  it('gives the host and each node a fixed address, and refuses a subnet too small', () => {
    const subnet = parseSubnet('10.213.7.0/24');
    expect(hostAddress(subnet)).toBe('10.213.7.1');
    expect(nodeAddress(subnet, 3)).toBe('10.213.7.13');
    expect(() => checkCapacity(parseSubnet('10.0.0.0/28'), 5)).toThrow(/too small/);
    expect(() => checkCapacity(parseSubnet('10.0.0.0/28'), 3)).not.toThrow();
  });
});
