import { ExitCode, UserError } from '../errors/user-error.js';
import type { Executor, ExecutorDeps, ExecutorKind } from './executor.js';
import { kubernetesExecutor } from './kubernetes/executor.js';
import { localExecutor } from './local.js';

/** Every executor by name (`--executor <name>`). */
export const executors: Record<string, ExecutorKind> = {
  local: localExecutor,
  kubernetes: kubernetesExecutor,
};

/** The executor of this name, or a usage error naming the ones there are. */
export function executorKind(name: string): ExecutorKind {
  const kind = Object.hasOwn(executors, name) ? executors[name] : undefined;
  if (kind === undefined) {
    throw new UserError('UNKNOWN_EXECUTOR', `executor \`${name}\` is not available`, {
      hint: `use ${Object.keys(executors)
        .map((known) => `--executor ${known}`)
        .join(' or ')}`,
      exitCode: ExitCode.invalidInput,
    });
  }
  return kind;
}

/** The executor of this name, ready to build and test. */
export async function getExecutor(name: string, deps: ExecutorDeps): Promise<Executor> {
  return executorKind(name).create(deps);
}
