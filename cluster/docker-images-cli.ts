/** `npm run images`: builds the docker backend's images (see docker-images.ts) and says how long it took. */
import { Command } from 'commander';
import { dockerDaemonAnswers } from './docker-client.ts';
import { buildImages } from './docker-images.ts';
import { ClusterError } from './errors.ts';

const program = new Command('images')
  .description('Build the ZooKeeper server image of the docker backend, without a registry by default')
  .option('--base-image <image>', 'build on this image instead of the debootstrapped base (e.g. debian:bookworm-slim)', process.env.BASE_IMAGE)
  .option('--rebuild-base', 'debootstrap the base image again even though it exists', false)
  .parse();
const options = program.opts<{ baseImage?: string; rebuildBase: boolean }>();

const started = performance.now();
try {
  if (!(await dockerDaemonAnswers())) throw new ClusterError('no Docker daemon answers; run `npm run setup -- docker` first');
  const image = await buildImages({ ...options, log: (line) => console.error(`images: ${line}`) });
  console.log(`images: ${image} ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
} catch (error) {
  console.error(`images: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
