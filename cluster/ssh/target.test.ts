import { describe, expect, it } from 'vitest';
import { parseTarget, parseTargets } from './target.ts';

describe('ssh targets', () => {
  it('reads user, host and port, with port 22 by default', () => {
    expect(parseTarget('root@10.0.0.5')).toEqual({ spec: 'root@10.0.0.5', user: 'root', host: '10.0.0.5', port: 22, label: '10-0-0-5_22' });
    expect(parseTarget('zk-3.example.org:2222')).toMatchObject({ host: 'zk-3.example.org', port: 2222, label: 'zk-3-example-org_2222' });
    expect(parseTarget('me@[fd00::1]:22')).toMatchObject({ user: 'me', host: 'fd00::1', port: 22, label: 'fd00--1_22' });
    expect(parseTarget('h1').user).toBeUndefined();
  });

  it('refuses what is not a host, with the bad-arguments exit code', () => {
    for (const bad of ['', 'root@', 'a b', 'host:0', 'host:70000', 'x@y@z', 'host:port']) {
      expect(() => parseTarget(bad), bad).toThrow(/is not a host/);
    }
    expect(() => parseTarget('host:')).toThrow(expect.objectContaining({ exitCode: 254 }));
  });

  it('takes a comma list and refuses the same host twice', () => {
    expect(parseTargets('a,root@b, c:2200', '--hosts').map((target) => target.label)).toEqual(['a_22', 'b_22', 'c_2200']);
    expect(() => parseTargets('a,root@a:22', '--hosts')).toThrow('--hosts names a twice');
    expect(() => parseTargets(' , ', '--hosts')).toThrow('--hosts names no host');
  });
});
