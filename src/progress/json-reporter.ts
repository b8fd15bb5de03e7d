import type { Writable } from 'node:stream';

import type { Reporter } from './reporter.js';

/** One JSON object per line, each event as emitted (`--json`). */
export function jsonReporter(stream: Writable): Reporter {
  return {
    onEvent(event) {
      stream.write(`${JSON.stringify(event)}\n`);
    },
    async close() {},
  };
}
