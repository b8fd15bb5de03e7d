import type { PxeEvent } from '../events/events.js';

/** Renders events. `close` waits until everything is drawn (listr2 renders asynchronously). */
export interface Reporter {
  onEvent(event: PxeEvent): void;
  close(): Promise<void>;
}

/** Events of one of several concurrent runs: each stage is named `<name>:<stage>`. */
export function namedEmit(emit: (event: PxeEvent) => void, name: string): (event: PxeEvent) => void {
  return (event) => emit('stage' in event && event.stage !== undefined ? { ...event, stage: `${name}:${event.stage}` } : event);
}
