import type { Writable } from 'node:stream';

/** Where a command writes, and where it runs from; tests pass their own. */
export interface CliIo {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable;
  cwd: string;
  signal: AbortSignal;
}

export function writeLines(stream: Writable, lines: readonly string[]): void {
  if (lines.length > 0) stream.write(`${lines.join('\n')}\n`);
}
