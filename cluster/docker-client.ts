/** The process's Docker client (dockerode, from DOCKER_HOST or the default socket) and the daemon check. */
import Docker from 'dockerode';

/** A daemon that has not answered by then is as good as absent (a DOCKER_HOST that black-holes, a hung daemon). */
const PING_TIMEOUT_MS = 3_000;

let client: Docker | undefined;

export function dockerClient(): Docker {
  client ??= new Docker();
  return client;
}

/** Whether a Docker daemon answers; cheap enough for `--backend auto` to ask before every run. */
export async function dockerDaemonAnswers(): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS)));
  const ping = dockerClient().ping().then(() => true, () => false);
  return Promise.race([ping, timeout]).finally(() => clearTimeout(timer));
}
