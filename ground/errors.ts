/** Exit codes, as Jepsen's: the verdict, or why there is none. */
export const EXIT = {
  valid: 0,
  invalid: 1,
  unknown: 2,
  /** The machine cannot run this (not root, no Java, ...). */
  environment: 253,
  badArguments: 254,
  crashed: 255,
} as const;

export function exitCodeFor(valid: boolean | 'unknown'): number {
  if (valid === 'unknown') return EXIT.unknown;
  return valid ? EXIT.valid : EXIT.invalid;
}

/** An error whose message is meant for a person as it is: printed as one line, no stack. */
export class UserError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT.badArguments) {
    super(message);
  }
}
