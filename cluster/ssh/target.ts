/**
 * A host as `--hosts` and `--client-hosts` name it: `[user@]host[:port]` (an IPv6 address in brackets), and the
 * label that tags everything a run makes on it (its directory, its processes' marker, its iptables comments).
 */
import { ClusterError } from '../errors.ts';
import { EXIT } from '../../ground/errors.ts';

export interface SshTarget {
  /** As given, for messages: "root@10.0.0.5:2222". */
  spec: string;
  user?: string;
  host: string;
  port: number;
  /** host and port in characters safe in a file name, an environment value and an iptables comment. */
  label: string;
}

export const DEFAULT_SSH_PORT = 22;

export function parseTarget(spec: string): SshTarget {
  const match = /^(?:([A-Za-z0-9._-]+)@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(spec.trim());
  const port = match?.[3] === undefined ? DEFAULT_SSH_PORT : Number(match[3]);
  if (match === null || port < 1 || port > 65_535) {
    throw new ClusterError(`'${spec}' is not a host: expected [user@]host[:port]`, EXIT.badArguments);
  }
  const host = match[2]!.replace(/^\[|\]$/g, '');
  return {
    spec: spec.trim(),
    ...(match[1] === undefined ? {} : { user: match[1] }),
    host,
    port,
    label: `${host.replace(/[^A-Za-z0-9-]/g, '-')}_${port}`,
  };
}

/** A comma list of hosts; the same host twice is refused (two servers on one host would share its ports). */
export function parseTargets(list: string, flag: string): SshTarget[] {
  const targets = list.split(',').map((spec) => spec.trim()).filter((spec) => spec !== '').map(parseTarget);
  if (targets.length === 0) throw new ClusterError(`${flag} names no host`, EXIT.badArguments);
  const labels = targets.map((target) => target.label);
  const repeated = labels.find((label, index) => labels.indexOf(label) !== index);
  if (repeated !== undefined) throw new ClusterError(`${flag} names ${targets.find((target) => target.label === repeated)!.host} twice`, EXIT.badArguments);
  return targets;
}
