/**
 * The few calls of the npm `zookeeper` client (C binding) the cluster tests need, typed, with connection waiting.
 */
import ZooKeeperPackage from 'zookeeper';

interface ZkClient {
  init(config: object): ZkClient;
  close(): void;
  create(path: string, data: string, flags: number): Promise<string>;
  get(path: string, watch: boolean): Promise<[stat: { czxid: number }, data: Buffer | string]>;
  exists(path: string, watch: boolean): Promise<{ czxid: number } | null>;
  sync(path: string): Promise<void>;
  delete_(path: string, version: number): Promise<void>;
  once(event: 'connect', listener: () => void): void;
}

const ZooKeeper = ZooKeeperPackage as unknown as new (config: object) => ZkClient;

/** A session on exactly one server; resolves once connected. */
export async function connectTo(server: string, sessionTimeoutMs = 4_000): Promise<ZkClient> {
  // debug_level 1: errors only.
  const client = new ZooKeeper({ connect: server, timeout: sessionTimeoutMs, debug_level: 1, host_order_deterministic: true });
  const connected = new Promise<void>((resolve) => client.once('connect', resolve));
  client.init({});
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ZooKeeper session with ${server} within 15 s`)), 15_000);
  });
  try {
    await Promise.race([connected, timeout]);
  } catch (error) {
    client.close();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return client;
}
