/** The page script with Observable Plot and the parts of d3 it uses, bundled once per process for inlining. */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

let bundled: Promise<string> | undefined;

export function pageScript(): Promise<string> {
  bundled ??= build({
    entryPoints: [fileURLToPath(new URL('./page/main.ts', import.meta.url))],
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2020',
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
  }).then((result) => {
    const code = result.outputFiles[0]!.text;
    // Inside an inline <script>, only "</script" could end it early; "<\/" means the same to JavaScript.
    return code.replace(/<\/script/gi, '<\\/script');
  });
  return bundled;
}
