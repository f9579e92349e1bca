/** The process's Docker client (dockerode, from DOCKER_HOST or the default socket) and the daemon check. */
import Docker from 'dockerode';

let client: Docker | undefined;

export function dockerClient(): Docker {
  client ??= new Docker();
  return client;
}

/** Whether a Docker daemon answers; cheap enough for `--backend auto` to ask before every run. */
export function dockerDaemonAnswers(): Promise<boolean> {
  return dockerClient().ping().then(() => true, () => false);
}
