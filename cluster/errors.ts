/** An expected failure (bad input, missing prerequisite, busy subnet): printed as one line, never with a stack. */
export class ClusterError extends Error {
  override name = 'ClusterError';
}
