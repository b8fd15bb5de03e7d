import { PassThrough } from 'node:stream';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

import type { V1Pod } from '@kubernetes/client-node';

import { InterruptedError, UserError } from '../../errors/user-error.js';
import type { Emit } from '../../events/events.js';
import type { KubeClient } from './client.js';
import { apiError, podOutcome } from './pod-failure.js';

export interface RunPodOptions {
  emit: Emit;
  signal: AbortSignal;
  /** Each line the pod's container prints, in order, once. */
  onLine: (line: string) => void;
  /** What the pod does, for messages ("build of compute"). */
  what: string;
  /** How often the pod is polled besides the watch (ms). */
  pollMs?: number;
  /** A promise while the output the lines go to is congested: the log is read no faster than it is written. */
  congested?: () => Promise<unknown> | undefined;
}

/**
 * Runs one pod to its end: create, watch its status (re-listing on 410 Gone and when the
 * watch ends silently, polling besides), follow its log (reconnecting from the last line's
 * timestamp without losing or repeating lines), turn its end state into a result or a clear
 * error, and delete it — when it ends, fails, or on Ctrl-C.
 */
export async function runPod(client: KubeClient, manifest: V1Pod, options: RunPodOptions): Promise<V1Pod> {
  const namespace = manifest.metadata!.namespace!;
  if (options.signal.aborted) throw new InterruptedError(options.what);
  let created: V1Pod;
  try {
    created = await client.core.createNamespacedPod({ namespace, body: manifest });
  } catch (error) {
    throw apiError(error, `creating the ${options.what} pod in namespace ${namespace}`) ?? error;
  }
  const name = created.metadata!.name!;
  options.emit({ type: 'info', message: `pod ${namespace}/${name} created` });
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const tracker = trackPod(client, namespace, name, created, stop.signal, options.pollMs ?? 5000);
    // Logs exist once the container started (or ended).
    const started = await tracker.until(
      (pod) => podOutcome(pod, options.what).state !== 'pending' || pod.status?.containerStatuses?.[0]?.state?.running !== undefined,
    );
    let outcome = podOutcome(started, options.what);
    if (outcome.state === 'failed' && started.status?.containerStatuses?.[0]?.state?.terminated === undefined) throw outcome.error;
    const logs = followLog(
      client,
      namespace,
      name,
      manifest.spec!.containers[0]!.name,
      tracker,
      options.onLine,
      stop.signal,
      options.congested,
    );
    const ended = await tracker.until((pod) => {
      const state = podOutcome(pod, options.what).state;
      return state === 'succeeded' || state === 'failed';
    });
    await logs;
    outcome = podOutcome(ended, options.what);
    if (outcome.state === 'failed') throw outcome.error;
    return ended;
  } catch (error) {
    if (options.signal.aborted) throw new InterruptedError(options.what);
    throw error;
  } finally {
    options.signal.removeEventListener('abort', onAbort);
    stop.abort();
    await client.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 }).then(
      () => options.emit({ type: 'info', message: `pod ${namespace}/${name} deleted` }),
      (error: unknown) => {
        if ((error as { code?: number }).code !== 404)
          options.emit({
            type: 'warning',
            message: `could not delete pod ${namespace}/${name}: ${(error as Error).message}; \`pxeforge k8s cleanup\` removes it`,
          });
      },
    );
  }
}

interface Tracker {
  /** Resolves with the first observed state of the pod that satisfies `predicate`. */
  until(predicate: (pod: V1Pod) => boolean): Promise<V1Pod>;
  latest(): V1Pod;
}

/** The pod's latest state, from a watch that is re-established whenever it ends, and polling. */
function trackPod(client: KubeClient, namespace: string, name: string, initial: V1Pod, signal: AbortSignal, pollMs: number): Tracker {
  let latest = initial;
  let failure: unknown;
  const waiters = new Set<() => void>();
  const update = (pod: V1Pod) => {
    if (Number(pod.metadata?.resourceVersion ?? 0) < Number(latest.metadata?.resourceVersion ?? 0)) return;
    latest = pod;
    for (const wake of waiters) wake();
  };
  const fail = (error: unknown) => {
    failure = error;
    for (const wake of waiters) wake();
  };

  // Re-list (a GET of the one pod) gives a fresh resourceVersion to watch from.
  const relist = async () => {
    const pod = await client.core.readNamespacedPod({ name, namespace });
    update(pod);
    return pod.metadata?.resourceVersion;
  };
  void (async () => {
    let resourceVersion = initial.metadata?.resourceVersion;
    let failures = 0;
    while (!signal.aborted) {
      const ended = await new Promise<{ gone: boolean; error?: unknown }>((resolve) => {
        let gone = false;
        client.watch
          .watch(
            `/api/v1/namespaces/${namespace}/pods`,
            { fieldSelector: `metadata.name=${name}`, resourceVersion, allowWatchBookmarks: true },
            (type, object: V1Pod & { code?: number }) => {
              if (type === 'ERROR') {
                gone = object.code === 410;
                return;
              }
              if (object.metadata?.resourceVersion) resourceVersion = object.metadata.resourceVersion;
              if (type !== 'BOOKMARK') update(object);
            },
            (error: unknown) => resolve({ gone, error }),
          )
          .then(
            (controller) => signal.addEventListener('abort', () => controller.abort(), { once: true }),
            (error: unknown) => resolve({ gone: false, error }),
          );
      });
      if (signal.aborted) return;
      // A watch ends: 410 Gone, a silent close, or an error. Re-list and watch again.
      failures = ended.error ? failures + 1 : 0;
      await sleep(Math.min(200 * 2 ** failures, 5000), undefined, { signal }).catch(() => undefined);
      resourceVersion = await relist().catch((error: unknown) => {
        const code = (error as { code?: number }).code;
        if (code === 404) fail(new UserError('POD_GONE', `pod ${namespace}/${name} was deleted by someone else`));
        return resourceVersion;
      });
      if (ended.gone) resourceVersion = latest.metadata?.resourceVersion;
    }
  })();
  // Polling besides the watch: a watch that hangs without ending must not hang pxeforge.
  void (async () => {
    while (!signal.aborted) {
      await sleep(pollMs, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) return;
      await relist().catch(() => undefined);
    }
  })();

  return {
    latest: () => latest,
    until(predicate) {
      return new Promise<V1Pod>((resolve, reject) => {
        const check = () => {
          if (failure !== undefined) {
            waiters.delete(check);
            reject(failure);
          } else if (predicate(latest)) {
            waiters.delete(check);
            resolve(latest);
          } else if (signal.aborted) {
            waiters.delete(check);
            reject(new InterruptedError('waiting for a pod'));
          }
        };
        waiters.add(check);
        signal.addEventListener('abort', check, { once: true });
        check();
      });
    },
  };
}

/**
 * Follows the container's log with timestamps. When the stream ends while the pod still
 * runs, it reconnects with `sinceTime` of the last line and drops the lines it already had
 * (those with an earlier timestamp, and as many with the same one as it saw).
 */
async function followLog(
  client: KubeClient,
  namespace: string,
  name: string,
  container: string,
  tracker: Tracker,
  onLine: (line: string) => void,
  signal: AbortSignal,
  congested: (() => Promise<unknown> | undefined) | undefined,
): Promise<void> {
  let lastStamp = '';
  let lastRaw = '';
  let seenAtLast = 0;
  let finalRead = false;
  for (let attempt = 0; !signal.aborted; attempt += 1) {
    const stream = new PassThrough();
    let skipAtLast = seenAtLast;
    let paused = false;
    const done = new Promise<void>((resolve) => {
      const lines = createInterface({ input: stream, crlfDelay: Infinity });
      lines.on('line', (raw) => {
        const space = raw.indexOf(' ');
        const stamp = space > 0 ? stampKey(raw.slice(0, space)) : '';
        const line = space > 0 ? raw.slice(space + 1) : raw;
        if (stamp !== '' && lastStamp !== '') {
          if (stamp < lastStamp) return;
          if (stamp === lastStamp && skipAtLast > 0) {
            skipAtLast -= 1;
            return;
          }
        }
        if (stamp === lastStamp) seenAtLast += 1;
        else {
          lastStamp = stamp;
          lastRaw = raw.slice(0, space);
          seenAtLast = 1;
        }
        onLine(line);
        // Backpressure: stop reading (and so the HTTP stream, and the API server) until the output drains.
        const wait = paused ? undefined : congested?.();
        if (wait !== undefined) {
          paused = true;
          lines.pause();
          void wait.then(() => {
            paused = false;
            lines.resume();
          });
        }
      });
      lines.on('close', resolve);
    });
    const controller = await client.log
      .log(namespace, name, container, stream, { follow: true, timestamps: true, ...(lastStamp === '' ? {} : { sinceTime: lastRaw }) })
      .catch((error: unknown) => {
        stream.end();
        return error instanceof Error ? error : new Error(String(error));
      });
    if (!(controller instanceof Error)) signal.addEventListener('abort', () => controller.abort(), { once: true });
    await done;
    if (finalRead) return;
    const state = podOutcome(tracker.latest(), '').state;
    // The pod ended: one more read catches lines printed between a cut stream and the pod's end.
    if (state === 'succeeded' || state === 'failed') {
      finalRead = true;
      continue;
    }
    await sleep(Math.min(100 * 2 ** Math.min(attempt, 5), 3000), undefined, { signal }).catch(() => undefined);
  }
}

/** RFC3339(Nano) timestamps as Kubernetes prints them (trailing zeros trimmed) → comparable strings. */
export function stampKey(stamp: string): string {
  const match = /^(.*?)(?:\.(\d+))?Z$/.exec(stamp);
  return match === null ? stamp : `${match[1]}.${(match[2] ?? '').padEnd(9, '0')}Z`;
}
