import { describe, expect, it } from 'vitest';
import { BACKEND_NAMES, BACKENDS, capabilitiesOf, createCluster } from './index.ts';

describe('backend capabilities', () => {
  it.each(BACKEND_NAMES)('%s: a cluster it makes can do exactly what its registry entry says', async (backend) => {
    // Nothing starts: a handle is made and asked, so no root, Java or Docker daemon is needed.
    const cluster = await createCluster({ backend, runDir: '/nonexistent', connect: '127.0.0.1:2181', hosts: 'root@zk1,root@zk2,root@zk3' });
    expect(capabilitiesOf(cluster)).toEqual(BACKENDS[backend].capabilities);
  });

  it('leaves the external ensemble, which the suite does not own, with lifecycle and status only', () => {
    expect(BACKENDS.external.capabilities).toEqual([]);
  });
});
