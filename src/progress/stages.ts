import type { Emit } from '../events/events.js';
import { isUserError } from '../errors/user-error.js';

export interface StageTools {
  emit: Emit;
  signal: AbortSignal;
}

/**
 * One verb-named step of a pipeline. `run` may return a short summary or `{ skipped }`. A
 * title may depend on the context (the distro of the image being built).
 */
export interface Stage<C> {
  id: string;
  title: string | ((context: C) => string);
  run(context: C, tools: StageTools): Promise<void | string | { skipped: string }>;
}

/**
 * Runs stages in order and reports each through events: plan, start, end (with duration)
 * or skip. The first failure stops the run and is rethrown unchanged after its stage-end
 * event; stages own their cleanup (try/finally), so nothing is left behind.
 */
export async function runStages<C>(stages: readonly Stage<C>[], context: C, tools: StageTools): Promise<void> {
  const { emit, signal } = tools;
  const titleOf = (stage: Stage<C>) => (typeof stage.title === 'string' ? stage.title : stage.title(context));
  emit({ type: 'plan', stages: stages.map((stage) => ({ id: stage.id, title: titleOf(stage) })) });
  for (const stage of stages) {
    const started = performance.now();
    emit({ type: 'stage-start', stage: stage.id, title: titleOf(stage) });
    const stageEmit: Emit = (event) =>
      emit(event.type === 'plan' || ('stage' in event && event.stage !== undefined) ? event : { ...event, stage: stage.id });
    try {
      signal.throwIfAborted();
      const result = await stage.run(context, { emit: stageEmit, signal });
      const durationMs = Math.round(performance.now() - started);
      if (typeof result === 'object') emit({ type: 'stage-skip', stage: stage.id, reason: result.skipped });
      else emit({ type: 'stage-end', stage: stage.id, ok: true, durationMs, ...(result ? { summary: result } : {}) });
    } catch (error) {
      const message = isUserError(error) ? error.message : String(error);
      emit({
        type: 'stage-end',
        stage: stage.id,
        ok: false,
        durationMs: Math.round(performance.now() - started),
        error: message.split('\n')[0] ?? message,
      });
      throw error;
    }
  }
}
