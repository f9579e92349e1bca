import { EXIT, UserError } from '../ground/errors.ts';

/**
 * An expected failure of the machine or the ensemble (not root, no Java, a busy subnet, a stuck start): one line,
 * never a stack, exit 253 ("the machine cannot run it") unless a bad argument says otherwise.
 */
export class ClusterError extends UserError {
  override name = 'ClusterError';

  constructor(message: string, exitCode: number = EXIT.environment) {
    super(message, exitCode);
  }
}
