import { constants } from 'node:os';

import { UserError } from '../errors/user-error.js';
import { quoteCommand } from './quote.js';

/** An external command failed: says which, how, and what it printed last. */
export class ToolError extends UserError {
  override name = 'ToolError';
  constructor(
    readonly argv: readonly string[],
    readonly exitCode_: number | undefined,
    readonly signal: string | undefined,
    readonly tail: readonly string[],
    hint?: string,
  ) {
    const how = describeExit(exitCode_, signal);
    const output = tail.length > 0 ? `\nlast output:\n${tail.map((line) => `  | ${line}`).join('\n')}` : '';
    super('COMMAND_FAILED', `command failed (${how}): ${quoteCommand(argv)}${output}`, { hint });
  }
}

export function describeExit(exitCode: number | undefined, signal: string | undefined): string {
  if (signal !== undefined) {
    const meaning: Record<string, string> = {
      SIGKILL: 'killed; the kernel OOM killer does this when memory runs out',
      SIGTERM: 'terminated',
      SIGINT: 'interrupted',
      SIGSEGV: 'crashed: segmentation fault',
      SIGABRT: 'aborted',
      SIGPIPE: 'broken pipe',
    };
    return `killed by ${signal}${meaning[signal] ? ` (${meaning[signal]})` : ''}`;
  }
  if (exitCode === 126) return 'exit code 126: found but not executable';
  if (exitCode === 127) return 'exit code 127: command not found';
  if (exitCode !== undefined && exitCode > 128) {
    const name = Object.entries(constants.signals).find(([, number]) => number === exitCode - 128)?.[0];
    if (name !== undefined) return `exit code ${exitCode}: a child was killed by ${name}`;
  }
  return `exit code ${exitCode ?? 'unknown'}`;
}
