import type { Emit } from '../events/events.js';

/**
 * Line handlers for a child's stdout and stderr (execa generator transforms): each line is
 * emitted as an output event and kept in a short tail for error messages; with `keep` it is
 * also passed on (so execa buffers it).
 */
export function outputLines(options: { emit?: Emit; stage?: string; limit: number }) {
  const tail: string[] = [];
  const handler = (stream: 'stdout' | 'stderr', keep: boolean) =>
    function* (line: unknown) {
      const text = String(line);
      tail.push(text);
      if (tail.length > options.limit) tail.shift();
      options.emit?.({ type: 'output', stage: options.stage, stream, line: text });
      if (keep) yield text;
    };
  return { tail, handler };
}
