/**
 * `zkVersion` on a real ensemble, once per backend: each version comes up with one leader, every server's `srvr`
 * reports the version asked for, and a killed server restarts on the same version (docker: the cached jars stay
 * mounted in its container).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dockerUnavailableReason } from '../../cluster/docker-images.ts';
import { createCluster, ZOOKEEPER_VERSIONS, type BackendName, type Cluster, type KillRestart, type ZooKeeperVersion } from '../../cluster/index.ts';
import { isSettled, leadersIn, waitForStatus } from '../../cluster/wait.ts';
import { serverClasspath, serverJarMounts, versionInSrvr } from '../../cluster/zookeeper.ts';

const dockerSkipReason = await dockerUnavailableReason();
const backends: BackendName[] = ['local', ...(dockerSkipReason === undefined ? (['docker'] as const) : [])];
if (dockerSkipReason !== undefined) {
  describe.skip(`docker cluster versions (${dockerSkipReason})`, () => {
    it('runs each version on the docker backend', () => {});
  });
}

const REJOIN_BOUND_MS = 60_000;

describe('server versions', () => {
  it('the cached version\'s jute comes before its zookeeper.jar, whose manifest names the system\'s jute', () => {
    expect(serverClasspath('3.9.6').split(':').slice(0, 2).map((jar) => jar.replace(/.*\//, ''))).toEqual(['zookeeper-jute.jar', 'zookeeper.jar']);
    expect(serverClasspath('3.9.6')).toContain('.cache/debs/unpacked/libzookeeper-java_3.9.6/');
    expect(serverJarMounts('3.8.0')).toEqual([]);
    expect(serverJarMounts('3.9.6').map((mount) => mount.target)).toEqual(['/usr/share/java/zookeeper.jar', '/usr/share/java/zookeeper-jute.jar']);
  });
});

describe.each(backends.flatMap((backend) => ZOOKEEPER_VERSIONS.map((version) => [backend, version] as const)))(
  '%s cluster of ZooKeeper %s',
  (backend, version: ZooKeeperVersion) => {
    let cluster: (Cluster & KillRestart) | undefined;
    let runDir: string | undefined;

    afterEach(async () => {
      await cluster?.teardown();
      if (runDir !== undefined) await rm(runDir, { recursive: true, force: true });
    });

    it('comes up with one leader, every server reports the version, and a restarted server keeps it', async () => {
      runDir = await mkdtemp(join(tmpdir(), `zkj-versions-${backend}-${version}-`));
      cluster = (await createCluster({ backend, runDir, zkVersion: version })) as Cluster & KillRestart;
      const startedAt = performance.now();
      await cluster.start();
      console.log(`measure: ${backend} ZooKeeper ${version} start to elected leader: ${Math.round(performance.now() - startedAt)} ms`);

      const statuses = await cluster.status();
      expect(leadersIn(statuses)).toHaveLength(1);
      expect(statuses.every((node) => node.mode === 'leader' || node.mode === 'follower')).toBe(true);
      for (const id of cluster.nodeIds) expect(versionInSrvr(await cluster.fourLetterWord(id, 'srvr'))).toBe(version);

      const follower = statuses.find((node) => node.mode === 'follower')!.id;
      await cluster.kill(follower);
      await cluster.restart(follower);
      await waitForStatus(cluster, 'the restarted follower serving', isSettled, REJOIN_BOUND_MS);
      expect(versionInSrvr(await cluster.fourLetterWord(follower, 'srvr'))).toBe(version);
    });
  },
);
