/**
 * The runner's own ZooKeeper session, straight to the servers (never through the fault proxy): it creates the
 * lock parents before a run and takes the snapshot the checker audits after it.
 */
import { ZOO_PERSISTENT, ZkCode, connectedZkHandle, zkErrorCode, type ZkHandle } from './zk.ts';
import { formatSessionId, type LockChild } from './history.ts';

export class AdminSession {
  private constructor(private readonly client: ZkHandle) {}

  static async connect(connect: string, timeoutMs = 10_000): Promise<AdminSession> {
    return new AdminSession(await connectedZkHandle(connect, timeoutMs, timeoutMs));
  }

  /** Creates every missing persistent node on the way to `path`. */
  async ensurePath(path: string): Promise<void> {
    let prefix = '';
    for (const part of path.split('/').filter((segment) => segment !== '')) {
      prefix += `/${part}`;
      await this.client.create(prefix, '', ZOO_PERSISTENT).catch((error: unknown) => {
        if (zkErrorCode(error) !== ZkCode.nodeExists) throw error;
      });
    }
  }

  /**
   * Children of `path` with their czxid and owner, after a sync so that this server is up to date. `nested`: a
   * persistent child stands for its own children, listed in its place, as deep as they go (a semaphore's
   * `leases/` and `locks/`).
   */
  async lockChildren(path: string, nested = false): Promise<LockChild[]> {
    await this.client.sync(path);
    const names = await this.client.get_children(path, false).catch((error: unknown) => {
      if (zkErrorCode(error) === ZkCode.noNode) return [] as string[];
      throw error;
    });
    const children: LockChild[] = [];
    for (const name of names.sort()) {
      const childPath = `${path}/${name}`;
      const stat = await this.client.exists(childPath, false).catch(() => null);
      if (stat === null) continue; // deleted between the listing and the stat
      const child = { name, path: childPath, czxid: stat.czxid, ephemeralOwner: formatSessionId(stat.ephemeralOwner) };
      if (nested && child.ephemeralOwner === '0x0') children.push(...(await this.lockChildren(childPath, true)));
      else children.push(child);
    }
    return children;
  }

  close(): void {
    this.client.close();
  }
}
