import { CommanderError } from 'commander';

import { ValidationError, formatProblem } from '../errors/problems.js';
import { ExitCode, isUserError } from '../errors/user-error.js';
import type { CliIo } from './io.js';

/** The one place errors become text and an exit code. */
export function reportError(error: unknown, io: CliIo, json: boolean): number {
  if (error instanceof CommanderError) {
    // commander already printed its message (and help for usage errors).
    return error.exitCode === 0 ? ExitCode.ok : ExitCode.invalidInput;
  }
  if (isUserError(error)) {
    if (json) {
      const problems = error instanceof ValidationError ? error.problems : undefined;
      io.stderr.write(`${JSON.stringify({ error: { code: error.code, message: error.message, hint: error.hint, problems } })}\n`);
    } else if (error instanceof ValidationError) {
      io.stderr.write(`${error.problems.map(formatProblem).join('\n')}\n${error.problems.length} problem(s) found\n`);
    } else {
      io.stderr.write(`error: ${error.message}\n${error.hint === undefined ? '' : `hint: ${error.hint}\n`}`);
    }
    return error.exitCode;
  }
  const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
  io.stderr.write(`internal error (a bug in pxeforge; please report it with this output):\n${stack}\n`);
  return ExitCode.failure;
}
