import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { RECIPES } from '../workloads/recipes.ts';
import { remoteCommand } from './client-hosts.ts';

const paths = (files: { path: string }[]): string[] => files.map((file) => file.path);

describe('remoteCommand: a recipe as a client host runs it', () => {
  it('bundles a tsx entry point for plain node, with the native package it loads beside it', async () => {
    const remote = await remoteCommand(RECIPES['node-safe'].launch());
    expect(remote.words).toEqual(['node', '{dir}/bundle/workloads-workers-node-main.mjs', '--recipe', 'safe']);
    expect(paths(remote.files)).toContain('bundle/workloads-workers-node-main.mjs');
    expect(paths(remote.files)).toContain('bundle/node_modules/zookeeper');
    // Pure-JS packages are inside the bundle, not copied.
    expect(paths(remote.files).some((path) => path.includes('node_modules/zod'))).toBe(false);
    expect(remote.env).toEqual({});
  });

  it('mirrors a script under files/ and keeps the interpreter, which the host must have', async () => {
    const remote = await remoteCommand(RECIPES['kazoo@2.8.0'].launch());
    expect(remote.words[0]).toBe('/usr/bin/python3');
    expect(remote.words[2]).toMatch(/^\{dir\}\/files\/.*\/workloads\/workers\/kazoo\/worker\.py$/);
    expect(paths(remote.files)).toEqual([remote.words[2]!.replace('{dir}/', '')]);
  });

  it.skipIf(!existsSync('/usr/share/java/curator-recipes.jar'))('lists every jar a classpath loads through manifests, each copied', async () => {
    const remote = await remoteCommand(RECIPES['curator@5.4.0'].launch());
    const classpath = remote.words[remote.words.indexOf('-cp') + 1]!.split(':');
    expect(classpath.every((entry) => entry.startsWith('{dir}/files/'))).toBe(true);
    // Named only in manifests, not in the recipe's classpath: still there, after the jar that names them.
    const names = classpath.map((entry) => entry.split('/').at(-1));
    expect(names).toContain('netty-handler.jar');
    expect(names.indexOf('netty-handler.jar')).toBeGreaterThan(names.indexOf('zookeeper.jar'));
    expect(paths(remote.files)).toHaveLength(new Set(paths(remote.files)).size);
  });

  it('passes only the environment the recipe adds, with its paths mirrored', async () => {
    const workerDir = dirname(RECIPES['kazoo@2.8.0'].launch().command[2]!);
    const launch = RECIPES['kazoo@2.8.0'].launch({ ...process.env, PYTHONPATH: `${workerDir}:relative/dir` });
    const remote = await remoteCommand(launch);
    expect(remote.env).toEqual({ PYTHONPATH: `{dir}/files${workerDir}:relative/dir` });
    expect(paths(remote.files)).toContain(`files${workerDir}`);
    // A directory copied whole covers the script beneath it.
    expect(paths(remote.files).filter((path) => path.endsWith('worker.py'))).toEqual([]);
  });
});
