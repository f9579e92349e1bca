import { describe, expect, it } from 'vitest';
import { manifestClassPath } from './jars.ts';

describe('manifestClassPath', () => {
  it('unfolds continuation lines and splits the entries', () => {
    const manifest = 'Manifest-Version: 1.0\r\nClass-Path: /usr/share/java/commons-cli.jar /usr/share/java/net\r\n ty-common.jar lib/a.jar\r\nCreated-By: Maven\r\n';
    expect(manifestClassPath(manifest)).toEqual(['/usr/share/java/commons-cli.jar', '/usr/share/java/netty-common.jar', 'lib/a.jar']);
  });

  it('is empty without a Class-Path', () => {
    expect(manifestClassPath('Manifest-Version: 1.0\n')).toEqual([]);
    expect(manifestClassPath('')).toEqual([]);
  });
});
