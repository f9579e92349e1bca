/**
 * The house as the imports draw it: ground/ imports none of the parts; no part imports src/ (the top floor) or
 * tests/; and between top-level folders there is no cycle. The graph comes from esbuild's own resolution of every
 * import (static and literal dynamic ones), not from a reading of the text.
 */
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '..', '..');
const PARTS = ['cluster', 'nemesis', 'workloads', 'checker', 'testbed', 'hosts'];
const FOLDERS = ['ground', ...PARTS, 'src', 'tests'];

const folderOf = (path: string): string => path.split('/')[0]!;

async function folderEdges(): Promise<Map<string, Set<string>>> {
  // Tracked and new files alike, as the working tree has them.
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', ...FOLDERS.map((folder) => `${folder}/*.ts`)], { cwd: REPO, encoding: 'utf8' });
  const entryPoints = listed.split('\n').filter((file) => file !== '').map((file) => join(REPO, file));
  const { metafile } = await build({
    entryPoints, bundle: true, write: false, metafile: true, platform: 'node', format: 'esm', packages: 'external',
    outdir: join(REPO, '.architecture-test-out'), logLevel: 'silent',
  });
  const edges = new Map<string, Set<string>>();
  for (const [input, { imports }] of Object.entries(metafile.inputs)) {
    const from = relative(REPO, join(REPO, input));
    for (const imported of imports) {
      if (imported.external) continue;
      const to = relative(REPO, join(REPO, imported.path));
      if (folderOf(from) === folderOf(to)) continue;
      const key = `${folderOf(from)} → ${folderOf(to)}`;
      if (!edges.has(key)) edges.set(key, new Set());
      edges.get(key)!.add(`${from} → ${to}`);
    }
  }
  return edges;
}

const edges = await folderEdges();
const importsOf = (folder: string): string[] => [...edges.keys()].filter((key) => key.startsWith(`${folder} →`)).map((key) => key.split(' → ')[1]!);
const files = (key: string): string[] => [...(edges.get(key) ?? [])];

describe('the import graph', () => {
  it('has edges at all (the reading works)', () => {
    expect(importsOf('src')).toContain('checker');
    expect(importsOf('cluster')).toContain('ground');
  });

  it('ground imports none of the parts, nor the top floor', () => {
    expect(importsOf('ground')).toEqual([]);
  });

  it.each(['ground', ...PARTS])('%s imports nothing from src/ or tests/', (folder) => {
    expect([...files(`${folder} → src`), ...files(`${folder} → tests`)]).toEqual([]);
  });

  it('src/ imports nothing from tests/', () => {
    expect(files('src → tests')).toEqual([]);
  });

  it('has no cycle between top-level folders', () => {
    const graph = new Map(FOLDERS.map((folder) => [folder, importsOf(folder)]));
    const cycles: string[] = [];
    const visit = (folder: string, path: string[]): void => {
      for (const next of graph.get(folder) ?? []) {
        if (path.includes(next)) cycles.push([...path.slice(path.indexOf(next)), next].join(' → '));
        else visit(next, [...path, next]);
      }
    };
    for (const folder of FOLDERS) visit(folder, [folder]);
    // Each cycle with one file import per hop, so a failure says where to look.
    const evidence = cycles.map((cycle) => {
      const hops = cycle.split(' → ');
      return hops.slice(1).map((to, index) => files(`${hops[index]} → ${to}`)[0]).join('; ');
    });
    expect(evidence).toEqual([]);
  });
});
