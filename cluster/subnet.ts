/**
 * IPv4 subnets for cluster bridges: parse, check against the host's routes, and hand out addresses.
 * The host keeps HOST_OFFSET on the bridge; node N gets NODE_OFFSET + N.
 */
import { ClusterError } from './errors.ts';
import { run } from './exec.ts';

export interface Subnet {
  /** Network address as a 32-bit unsigned number. */
  base: number;
  prefixLength: number;
}

/** Automatic subnets are /24s taken from this /16. */
export const AUTO_SUBNET_POOL = '10.213.0.0/16';
const HOST_OFFSET = 1;
const NODE_OFFSET = 10;

export function parseSubnet(text: string): Subnet {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(text.trim());
  const octets = match?.slice(1, 5).map(Number);
  const prefixLength = match?.[5] === undefined ? 32 : Number(match[5]);
  if (!octets || octets.some((octet) => octet > 255) || prefixLength > 32) {
    throw new ClusterError(`not an IPv4 subnet: '${text}' (expected e.g. 10.213.7.0/24)`);
  }
  const address = octets.reduce((value, octet) => value * 256 + octet, 0);
  return { base: address - (address % 2 ** (32 - prefixLength)), prefixLength };
}

export function formatSubnet(subnet: Subnet): string {
  return `${formatAddress(subnet.base)}/${subnet.prefixLength}`;
}

function formatAddress(address: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256).join('.');
}

function size(subnet: Subnet): number {
  return 2 ** (32 - subnet.prefixLength);
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}

export function hostAddress(subnet: Subnet): string {
  return formatAddress(subnet.base + HOST_OFFSET);
}

export function nodeAddress(subnet: Subnet, nodeId: number): string {
  return formatAddress(subnet.base + NODE_OFFSET + nodeId);
}

/** Refuses a subnet too small for the host, `nodes` servers and a broadcast address, or one given with host bits. */
export function checkCapacity(subnet: Subnet, nodes: number): void {
  if (NODE_OFFSET + nodes >= size(subnet) - 1) {
    throw new ClusterError(`subnet ${formatSubnet(subnet)} is too small for ${nodes} nodes`);
  }
}

/**
 * Every destination the host routes to, in every table (127.0.0.0/8 lives in the local table), the default route
 * excluded: it covers everything by design.
 */
export async function hostRoutes(): Promise<{ subnet: Subnet; line: string }[]> {
  const output = await run('ip', ['-4', 'route', 'show', 'table', 'all']);
  return output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => ({ line, destination: line.split(/\s+/).find((word) => /^\d/.test(word)) }))
    .filter((route) => route.destination !== undefined && !route.line.startsWith('default'))
    .map((route) => ({ line: route.line, subnet: parseSubnet(route.destination!) }));
}

/** Throws one clear line when `subnet` overlaps a route the host already has. */
export async function refuseOverlap(subnet: Subnet): Promise<void> {
  const clash = (await hostRoutes()).find((route) => overlaps(route.subnet, subnet));
  if (clash) {
    throw new ClusterError(`subnet ${formatSubnet(subnet)} overlaps an existing route: ${clash.line}`);
  }
}

/** The /24s of the automatic pool that no host route touches, in a random order so parallel starts rarely collide. */
export async function freePoolSubnets(): Promise<Subnet[]> {
  const pool = parseSubnet(AUTO_SUBNET_POOL);
  const routes = await hostRoutes();
  const candidates: Subnet[] = [];
  for (let index = 0; index < size(pool) / 256; index++) {
    const candidate = { base: pool.base + index * 256, prefixLength: 24 };
    if (!routes.some((route) => overlaps(route.subnet, candidate))) candidates.push(candidate);
  }
  for (let i = candidates.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [candidates[i], candidates[j]] = [candidates[j]!, candidates[i]!];
  }
  return candidates;
}
