import type { ErrorCode } from './codes.js';

/**
 * The two error families of pxeforge.
 *
 * A `UserError` is something the admin can act on: bad input, a missing host tool, a failed
 * command, a failed check. It carries a stable `code` (for scripts and tests), an exit code
 * and an optional `hint` that says how to fix it. The reporter shows it without a stack.
 *
 * Anything else that reaches the reporter is a bug in pxeforge and is shown with its stack.
 */

/** Exit codes of the `pxeforge` command (documented in docs/commands.md). */
export const ExitCode = {
  ok: 0,
  /** An operation ran and failed: a build step, a check, a verification. */
  failure: 1,
  /** The input is invalid: usage, recipe, site config, missing version. Nothing was changed. */
  invalidInput: 2,
  /** Interrupted by SIGINT/SIGTERM; everything started was stopped. */
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface UserErrorOptions {
  hint?: string;
  exitCode?: ExitCode;
  cause?: unknown;
}

export class UserError extends Error {
  override name = 'UserError';
  readonly hint: string | undefined;
  readonly exitCode: ExitCode;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: UserErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? ExitCode.failure;
  }
}

/** Invalid input: exit code 2, nothing was changed. */
export function invalidInput(code: ErrorCode, message: string, hint?: string): UserError {
  return new UserError(code, message, { hint, exitCode: ExitCode.invalidInput });
}

/** The operation was stopped by an AbortSignal (Ctrl-C, SIGTERM, a deadline). */
export class InterruptedError extends UserError {
  override name = 'InterruptedError';
  constructor(what: string) {
    super('INTERRUPTED', `interrupted: ${what}`, { exitCode: ExitCode.interrupted });
  }
}

export function isUserError(error: unknown): error is UserError {
  return error instanceof UserError;
}
