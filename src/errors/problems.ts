import type { ErrorCode } from './codes.js';
import { ExitCode, UserError } from './user-error.js';

/** One thing wrong with an input file, located precisely enough to jump to it in an editor. */
export interface Problem {
  /** Path of the file, relative to the recipe repository when inside it. */
  file: string;
  /** 1-based line and column; absent when the problem is about the file as a whole. */
  line?: number;
  column?: number;
  /** Field path inside the document, e.g. `packages.include[2]`; empty for the whole file. */
  path: string;
  message: string;
  hint?: string;
  /** A code for scripts when the problem has its own (see codes.ts); most have none. */
  code?: ErrorCode;
}

export function formatProblem(problem: Problem): string {
  const where = [problem.file, problem.line, problem.column].filter((part) => part !== undefined).join(':');
  const field = problem.path === '' ? '' : ` ${problem.path}:`;
  const hint = problem.hint === undefined ? '' : `\n    hint: ${problem.hint}`;
  return `${where}:${field} ${problem.message}${hint}`;
}

/** Every problem found in the input, reported at once (exit code 2). */
export class ValidationError extends UserError {
  override name = 'ValidationError';
  constructor(readonly problems: Problem[]) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super('INVALID_INPUT', `${count} found:\n${problems.map(formatProblem).join('\n')}`, {
      exitCode: ExitCode.invalidInput,
    });
  }
}
