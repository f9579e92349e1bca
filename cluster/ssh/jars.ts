/**
 * The jars a classpath really loads. Debian's jars name their dependencies in their manifests' Class-Path by
 * absolute path (/usr/share/java/netty-common.jar, ...), and the JVM searches those right after the jar that names
 * them. A host without Debian's packages has none of those paths, so a classpath copied to it lists every jar
 * explicitly, in the order the JVM would have searched them here (docs/environment.md).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ClusterError } from '../errors.ts';

const execFileAsync = promisify(execFile);

/** The Class-Path entries of a manifest's text (continuation lines start with one space). */
export function manifestClassPath(manifest: string): string[] {
  const unfolded = manifest.replace(/\r?\n /g, '');
  const line = unfolded.split(/\r?\n/).find((entry) => entry.startsWith('Class-Path:'));
  return line === undefined ? [] : line.slice('Class-Path:'.length).trim().split(/\s+/).filter((entry) => entry !== '');
}

async function manifestOf(jar: string): Promise<string> {
  try {
    return (await execFileAsync('unzip', ['-p', jar, 'META-INF/MANIFEST.MF'], { maxBuffer: 1024 * 1024 })).stdout;
  } catch (error) {
    // unzip exits 11 for a jar without a manifest: nothing more to load.
    if ((error as { code?: number }).code === 11) return '';
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ClusterError("'unzip' not found on PATH; run: npm run setup");
    throw error;
  }
}

/**
 * Every jar the JVM would search for `classpath` on this machine, depth first as it expands manifests, each once,
 * missing ones left out (the JVM skips them too).
 */
export async function jarClosure(classpath: readonly string[]): Promise<string[]> {
  const seen = new Set<string>();
  const order: string[] = [];
  const visit = async (jar: string): Promise<void> => {
    const path = resolve(jar);
    if (seen.has(path) || !existsSync(path)) return;
    seen.add(path);
    order.push(path);
    if (!path.endsWith('.jar')) return;
    for (const entry of manifestClassPath(await manifestOf(path))) await visit(resolve(dirname(path), entry));
  };
  for (const jar of classpath) await visit(jar);
  return order;
}
