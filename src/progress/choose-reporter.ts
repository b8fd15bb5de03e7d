import type { Writable } from 'node:stream';

import { jsonReporter } from './json-reporter.js';
import { listrReporter } from './listr-reporter.js';
import { plainReporter } from './plain-reporter.js';
import type { Reporter } from './reporter.js';

export type ReporterKind = 'tty' | 'plain' | 'json';

/** listr2 on an interactive terminal, plain lines otherwise (CI, pipes), JSON lines on request. */
export function chooseReporter(options: { json: boolean; stream: Writable & { isTTY?: boolean } }): ReporterKind {
  if (options.json) return 'json';
  return options.stream.isTTY === true && process.env.CI === undefined ? 'tty' : 'plain';
}

export function createReporter(kind: ReporterKind, stream: Writable): Reporter {
  if (kind === 'json') return jsonReporter(stream);
  if (kind === 'tty') return listrReporter(stream);
  return plainReporter(stream);
}
