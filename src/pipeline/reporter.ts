import type { Writable } from 'node:stream';

import type { PxeEvent } from '../events/events.js';
import { jsonReporter } from './json-reporter.js';
import { listrReporter } from './listr-reporter.js';
import { plainReporter } from './plain-reporter.js';

/** Renders events. `close` waits until everything is drawn (listr2 renders asynchronously). */
export interface Reporter {
  onEvent(event: PxeEvent): void;
  close(): Promise<void>;
}

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

/** Events of one of several concurrent runs: each stage is named `<name>:<stage>`. */
export function namedEmit(emit: (event: PxeEvent) => void, name: string): (event: PxeEvent) => void {
  return (event) => emit('stage' in event && event.stage !== undefined ? { ...event, stage: `${name}:${event.stage}` } : event);
}
