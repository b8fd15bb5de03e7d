/**
 * Typed events: the only way core code reports progress. Core never prints; the pipeline
 * renders events with listr2 on a TTY, as plain lines in CI, or as JSON lines (`--json`).
 * Events are plain JSON so a build running elsewhere (a Kubernetes pod) can send them back
 * and be rendered exactly like a local one.
 */
export type PxeEvent =
  /** The stages about to run, in order, so a renderer can show them all up front. */
  | { type: 'plan'; stages: { id: string; title: string }[] }
  | { type: 'stage-start'; stage: string; title: string }
  | { type: 'stage-end'; stage: string; ok: true; durationMs: number; summary?: string }
  | { type: 'stage-end'; stage: string; ok: false; durationMs: number; error: string }
  | { type: 'stage-skip'; stage: string; reason: string }
  /** An external command, shell-quoted so it can be pasted into a terminal. */
  | { type: 'command'; stage?: string; command: string }
  | { type: 'output'; stage?: string; stream: 'stdout' | 'stderr'; line: string }
  | { type: 'info'; stage?: string; message: string }
  | { type: 'warning'; stage?: string; message: string };

export type Emit = (event: PxeEvent) => void;

/** Every event type, at run time (a pod's event lines are checked against it). */
export const eventTypes = ['plan', 'stage-start', 'stage-end', 'stage-skip', 'command', 'output', 'info', 'warning'] as const;

export type PxeEventType = (typeof eventTypes)[number];

// The list and the union name the same types: adding an event to one without the other fails to compile.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _sameTypes: Same<PxeEventType, PxeEvent['type']> = true;
void _sameTypes;
