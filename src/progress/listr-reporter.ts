import type { Writable } from 'node:stream';

import { Listr, type ListrDefaultRenderer, type ListrSimpleRenderer, type ListrTaskWrapper } from 'listr2';

import type { PxeEvent } from '../events/events.js';
import { plainLine, seconds } from './plain-reporter.js';
import type { Reporter } from './reporter.js';

type TaskWrapper = ListrTaskWrapper<unknown, ListrDefaultRenderer, ListrSimpleRenderer>;

interface StageView {
  title: string;
  task?: TaskWrapper;
  lastLine?: string;
  skipped?: string;
  /** Title with duration and summary, applied when the stage ends. */
  doneTitle?: string;
  done: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

/**
 * Drives listr2 from events instead of letting it run the work: the stages run wherever
 * they run (here, or in a pod whose JSON events are relayed) and listr2 only draws them.
 */
export function listrReporter(stream: Writable): Reporter {
  const views = new Map<string, StageView>();
  let running: Promise<unknown> | undefined;

  const start = (stages: { id: string; title: string }[]) => {
    for (const { id, title } of stages) {
      let resolve!: () => void;
      let reject!: (error: Error) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      // listr2 awaits `done` only when it reaches the stage; until then a failure must not
      // count as an unhandled rejection.
      done.catch(() => undefined);
      views.set(id, { title, done, resolve, reject });
    }
    const listr = new Listr<unknown, 'default', 'simple'>(
      stages.map(({ id, title }) => ({
        title,
        task: async (_: unknown, task: TaskWrapper) => {
          const view = views.get(id)!;
          view.task = task;
          if (view.lastLine !== undefined) task.output = view.lastLine;
          await view.done;
          if (view.doneTitle !== undefined) task.title = view.doneTitle;
          if (view.skipped !== undefined) task.skip(view.skipped);
        },
        rendererOptions: { bottomBar: 3 },
      })),
      { exitOnError: true, registerSignalListeners: false, rendererOptions: { collapseErrors: false } },
    );
    running = listr.run().catch(() => undefined);
  };

  return {
    onEvent(event: PxeEvent) {
      if (event.type === 'plan') return start(event.stages);
      const view = 'stage' in event && event.stage !== undefined ? views.get(event.stage) : undefined;
      if (view === undefined) {
        const line = plainLine(event);
        if (line !== undefined && running === undefined) stream.write(`${line}\n`);
        return;
      }
      if (event.type === 'stage-end') {
        if (event.ok) {
          view.doneTitle = `${view.title} (${seconds(event.durationMs)}${event.summary ? `, ${event.summary}` : ''})`;
          view.resolve();
        } else {
          view.reject(new Error(event.error));
        }
      } else if (event.type === 'stage-skip') {
        view.skipped = event.reason;
        view.resolve();
      } else if (event.type !== 'stage-start') {
        const line = plainLine({ ...event, stage: undefined } as PxeEvent);
        if (line === undefined) return;
        view.lastLine = line;
        if (view.task) view.task.output = line;
      }
    },
    async close() {
      await running;
    },
  };
}
