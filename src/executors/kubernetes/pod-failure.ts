import type { ErrorCode } from '../../errors/codes.js';
import type { V1Pod } from '@kubernetes/client-node';

import { UserError } from '../../errors/user-error.js';

/** Waiting reasons that mean the image will not be pulled without someone fixing something. */
const pullFailures = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);

export type PodOutcome = { state: 'pending' | 'running' } | { state: 'succeeded' } | { state: 'failed'; error: UserError };

/**
 * What a pod's status means for pxeforge, as a pure function: still going, done, or failed
 * with a reason an admin can act on (OOMKilled with the limit, Evicted, image pull failure,
 * Unschedulable with the scheduler's message, deadline exceeded, a non-zero exit).
 */
export function podOutcome(pod: V1Pod, what: string): PodOutcome {
  const status = pod.status ?? {};
  const name = pod.metadata?.name ?? '(unnamed pod)';
  const container = status.containerStatuses?.[0];
  const fail = (code: ErrorCode, message: string, hint?: string) => ({
    state: 'failed' as const,
    error: new UserError(code, `${what}: pod ${name} ${message}`, { hint }),
  });

  if (status.reason === 'Evicted')
    return fail(
      'POD_EVICTED',
      `was evicted: ${status.message ?? 'no message'}`,
      'the node ran short of a resource (often disk or memory); free it or pick other nodes with nodeSelector',
    );
  if (status.reason === 'DeadlineExceeded') {
    return fail(
      'POD_DEADLINE',
      `ran past its deadline of ${pod.spec?.activeDeadlineSeconds ?? '?'} s and was stopped`,
      'raise kubernetes.deadlines in pxeforge.yaml if the work is slow but healthy',
    );
  }
  const terminated = container?.state?.terminated ?? container?.lastState?.terminated;
  if (terminated?.reason === 'OOMKilled') {
    const limit = pod.spec?.containers?.[0]?.resources?.limits?.memory;
    return fail(
      'POD_OOM',
      `ran out of memory (OOMKilled${limit === undefined ? ', no memory limit set' : ` at its limit of ${limit}`})`,
      'raise kubernetes.resources.*.memory in pxeforge.yaml',
    );
  }
  const waiting = container?.state?.waiting;
  if (waiting?.reason !== undefined && pullFailures.has(waiting.reason)) {
    return fail(
      'POD_IMAGE_PULL',
      `cannot pull its image ${pod.spec?.containers?.[0]?.image ?? ''}: ${waiting.reason}${waiting.message ? ` (${waiting.message})` : ''}`,
      'check kubernetes.image in pxeforge.yaml and that the nodes can reach its registry',
    );
  }
  if (waiting?.reason === 'CreateContainerConfigError' || waiting?.reason === 'CreateContainerError') {
    return fail('POD_CONFIG', `cannot start its container: ${waiting.reason}${waiting.message ? ` (${waiting.message})` : ''}`);
  }
  const scheduled = status.conditions?.find((c) => c.type === 'PodScheduled');
  if (status.phase === 'Pending' && scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    return fail(
      'POD_UNSCHEDULABLE',
      `cannot be scheduled: ${scheduled.message ?? 'no message from the scheduler'}`,
      'check kubernetes.nodeSelector, tolerations and resources in pxeforge.yaml against the nodes',
    );
  }
  if (status.phase === 'Succeeded') return { state: 'succeeded' };
  if (status.phase === 'Failed') {
    if (terminated !== undefined)
      return fail(
        'POD_FAILED',
        `failed: ${terminated.reason ?? 'Error'}, exit code ${terminated.exitCode}${terminated.message ? ` (${terminated.message})` : ''}`,
      );
    return fail('POD_FAILED', `failed: ${status.reason ?? 'unknown reason'}${status.message ? ` (${status.message})` : ''}`);
  }
  return { state: status.phase === 'Running' ? 'running' : 'pending' };
}

/** An API error (client-node's ApiException: `code` and a JSON `body`) as an admin-readable error. */
export function apiError(error: unknown, doing: string): UserError | undefined {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'number') return undefined;
  let message = (error as Error).message;
  try {
    const body = JSON.parse(String((error as { body?: unknown }).body)) as { message?: string };
    if (body.message) message = body.message;
  } catch {
    // not JSON: keep the library's message
  }
  if (code === 403) {
    return new UserError('K8S_FORBIDDEN', `${doing}: forbidden by RBAC: ${message}`, {
      hint: 'apply deploy/rbac.yaml (pods create/get/list/watch/delete, pods/log get, events list/watch) to the account in your kubeconfig',
    });
  }
  if (code === 401)
    return new UserError('K8S_UNAUTHORIZED', `${doing}: the cluster did not accept the credentials of the kubeconfig: ${message}`);
  if (code === 404)
    return new UserError('K8S_NOT_FOUND', `${doing}: not found: ${message}`, {
      hint: 'does the namespace exist? apply deploy/namespace.yaml',
    });
  return new UserError('K8S_API', `${doing}: the API server answered ${code}: ${message}`);
}
