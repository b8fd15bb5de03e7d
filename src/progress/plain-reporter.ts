import type { Writable } from 'node:stream';

import type { PxeEvent } from '../events/events.js';
import type { Reporter } from './reporter.js';

/** Plain lines for logs and CI: every line says which stage it belongs to. */
export function plainReporter(stream: Writable): Reporter {
  return {
    onEvent(event) {
      const line = plainLine(event);
      if (line !== undefined) stream.write(`${line}\n`);
    },
    async close() {},
  };
}

export function plainLine(event: PxeEvent): string | undefined {
  const prefix = 'stage' in event && event.stage !== undefined ? `[${event.stage}] ` : '';
  switch (event.type) {
    case 'plan':
      return undefined;
    case 'stage-start':
      return `${prefix}${event.title}...`;
    case 'stage-end':
      return event.ok
        ? `${prefix}done in ${seconds(event.durationMs)}${event.summary ? `: ${event.summary}` : ''}`
        : `${prefix}FAILED after ${seconds(event.durationMs)}: ${event.error}`;
    case 'stage-skip':
      return `${prefix}skipped: ${event.reason}`;
    case 'command':
      return `${prefix}$ ${event.command}`;
    case 'output':
      return `${prefix}${event.line}`;
    case 'info':
      return `${prefix}${event.message}`;
    case 'warning':
      return `${prefix}warning: ${event.message}`;
  }
}

export function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}
