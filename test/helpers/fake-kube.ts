import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { KubeConfig, type V1Pod } from '@kubernetes/client-node';

import type { PodmanKubelet } from './podman-kubelet.js';

/**
 * A Kubernetes API server on loopback that speaks the wire protocol client-node uses for
 * pods — REST JSON with Status errors, chunked watch streams (with resourceVersion, 410
 * Gone), and log follow with timestamps and sinceTime — and plays each pod's
 * life from a scenario. The "container" checks its build inputs like the real pod does
 * (the tar named in its command must exist with its digest) and prints scripted lines.
 */
export type PodEnd =
  | { kind: 'succeeded' }
  | { kind: 'exit'; code: number }
  | { kind: 'oom' }
  | { kind: 'evicted' }
  | { kind: 'image-pull' }
  | { kind: 'unschedulable' }
  | { kind: 'deadline' }
  | { kind: 'forever' };

export interface Scenario {
  /** Lines the container prints (before its end). */
  lines: (pod: V1Pod) => string[];
  end: PodEnd;
  /** Lines printed per timestamp: several lines sharing one timestamp test the reconnect. */
  linesPerStamp?: number;
  lineDelayMs?: number;
  /** How the first watch of each pod behaves. */
  watch?: 'normal' | 'silent-end' | 'gone' | 'hang';
  /** How the first log stream behaves: cut after half the lines while the pod runs. */
  log?: 'normal' | 'ends-early';
  forbidCreate?: boolean;
  /**
   * Runs the container's command on this host instead of printing `lines` (a fake kubelet):
   * its stdout lines become the log, its exit status the pod's end.
   */
  execute?: (command: string[]) => { lines: AsyncIterable<string>; exit: Promise<number> };
  /**
   * Runs each pod as a real container (test/helpers/podman-kubelet.ts) instead of playing
   * `lines` and `end`: its status, log and end are the container's. Closed with the server.
   */
  kubelet?: PodmanKubelet;
}

interface PodRecord {
  pod: V1Pod;
  printed: { stamp: string; line: string }[];
  history: V1Pod[];
  deleted: boolean;
  watches: number;
  logs: number;
  lineWaiters: Set<() => void>;
}

export interface FakeKube {
  url: string;
  kubeConfig: KubeConfig;
  /** Pods as created (the manifests pxeforge sent). */
  created: V1Pod[];
  deleted: string[];
  requests: string[];
  pods: Map<string, PodRecord>;
  scenario: Scenario;
  close(): Promise<void>;
}

const json = (res: ServerResponse, code: number, body: unknown) => {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};
const status = (code: number, reason: string, message: string) => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message,
  reason,
  code,
});

function matches(pod: V1Pod, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [key, value] = term.split('=');
    if (key === 'metadata.name') return pod.metadata?.name === value;
    return pod.metadata?.labels?.[key!] === value;
  });
}

/** Kubernetes' RFC3339Nano: trailing zeros of the fraction trimmed. */
function stamp(ms: number, nanos: number): string {
  const iso = new Date(ms).toISOString().replace(/\.\d{3}Z$/, '');
  const fraction = `${String(ms % 1000).padStart(3, '0')}${String(nanos).padStart(6, '0')}`.replace(/0+$/, '');
  return `${iso}${fraction ? `.${fraction}` : ''}Z`;
}

function stampValue(text: string): number {
  const match = /^(.*?)(?:\.(\d+))?Z$/.exec(text)!;
  return Date.parse(`${match[1]}Z`) * 1e6 + Number((match[2] ?? '').padEnd(9, '0'));
}

export async function startFakeKube(initial: Scenario): Promise<FakeKube> {
  let version = 100;
  const pods = new Map<string, PodRecord>();
  const watchers = new Set<{ res: ServerResponse; selector: string | null; field: string | null }>();
  const fake: Omit<FakeKube, 'url' | 'kubeConfig' | 'close'> = { created: [], deleted: [], requests: [], pods, scenario: initial };

  const publish = (record: PodRecord, change: (pod: V1Pod) => void, type = 'MODIFIED') => {
    const pod = structuredClone(record.pod);
    change(pod);
    version += 1;
    pod.metadata!.resourceVersion = String(version);
    record.pod = pod;
    record.history.push(pod);
    for (const watcher of watchers) {
      if (matches(pod, watcher.selector) && matches(pod, watcher.field)) watcher.res.write(`${JSON.stringify({ type, object: pod })}\n`);
    }
  };

  const live = async (record: PodRecord) => {
    const scenario = fake.scenario;
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    await sleep(30);
    if (record.deleted) return;
    if (scenario.kubelet !== undefined) {
      await scenario.kubelet.run(record.pod, {
        status: (status) => {
          if (!record.deleted) publish(record, (pod) => (pod.status = status));
          for (const wake of record.lineWaiters) wake();
        },
        line: (at, line) => {
          record.printed.push({ stamp: at, line });
          for (const wake of record.lineWaiters) wake();
        },
      });
      return;
    }
    const end = scenario.end;
    if (end.kind === 'unschedulable') {
      publish(
        record,
        (pod) =>
          (pod.status = {
            phase: 'Pending',
            conditions: [
              {
                type: 'PodScheduled',
                status: 'False',
                reason: 'Unschedulable',
                message: '0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available.',
              },
            ],
          }),
      );
      return;
    }
    if (end.kind === 'image-pull') {
      publish(
        record,
        (pod) =>
          (pod.status = {
            phase: 'Pending',
            containerStatuses: [
              {
                name: 'c',
                image: pod.spec!.containers[0]!.image!,
                imageID: '',
                ready: false,
                restartCount: 0,
                state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${pod.spec!.containers[0]!.image}"` } },
              },
            ],
          }),
      );
      return;
    }
    const container = (state: object) => [
      {
        name: record.pod.spec!.containers[0]!.name,
        image: record.pod.spec!.containers[0]!.image!,
        imageID: '',
        ready: true,
        restartCount: 0,
        state,
      },
    ];
    const startedAt = new Date();
    publish(
      record,
      (pod) => (pod.status = { phase: 'Running', startTime: startedAt, containerStatuses: container({ running: { startedAt } }) }),
    );

    // The container: check the build inputs like `pxeforge k8s run-build` does, then print.
    const command = record.pod.spec!.containers[0]!.command ?? [];
    const inputs = command[command.indexOf('--inputs') + 1];
    const digest = command[command.indexOf('--sha256') + 1];
    let lines = scenario.lines(record.pod);
    let exit = end;
    if (command.includes('run-build')) {
      const actual = await readFile(inputs!).then(
        (data) => createHash('sha256').update(data).digest('hex'),
        () => 'missing',
      );
      if (actual !== digest) {
        lines = [`{"type":"warning","message":"inputs ${inputs} have sha256 ${actual}, not ${digest}"}`];
        exit = { kind: 'exit', code: 1 };
      }
    }
    if (scenario.execute !== undefined && exit.kind === 'succeeded') {
      const running = scenario.execute(command);
      let lastMs = 0;
      let nanos = 0;
      for await (const line of running.lines) {
        const now = Math.max(Date.now(), lastMs);
        nanos = now === lastMs ? nanos + 1 : 0;
        lastMs = now;
        record.printed.push({ stamp: stamp(now, nanos), line });
        for (const wake of record.lineWaiters) wake();
      }
      const code = await running.exit;
      if (code !== 0) exit = { kind: 'exit', code };
      lines = [];
    }
    const perStamp = scenario.linesPerStamp ?? 1;
    const base = Date.now();
    for (let i = 0; ; i += 1) {
      if (record.deleted) return;
      if (exit.kind !== 'forever' && i >= lines.length) break;
      // `{now}` in a scripted line becomes the time it is printed (to measure event latency).
      const scripted = lines[i % Math.max(lines.length, 1)] ?? `line ${i}`;
      const line = scripted.includes('{now}') ? scripted.replace('{now}', String(Date.now())) : scripted;
      const group = Math.floor(i / perStamp);
      record.printed.push({ stamp: stamp(base + group, group * 7), line });
      for (const wake of record.lineWaiters) wake();
      if (scenario.lineDelayMs) await sleep(scenario.lineDelayMs);
      else if (exit.kind === 'forever') await sleep(5);
      else if (i % 200 === 0) await sleep(0);
    }
    await sleep(10);
    if (record.deleted) return;
    const finishedAt = new Date();
    const terminated = (exitCode: number, reason: string) => container({ terminated: { exitCode, reason, startedAt, finishedAt } });
    publish(record, (pod) => {
      if (exit.kind === 'succeeded') pod.status = { ...pod.status, phase: 'Succeeded', containerStatuses: terminated(0, 'Completed') };
      else if (exit.kind === 'exit') pod.status = { ...pod.status, phase: 'Failed', containerStatuses: terminated(exit.code, 'Error') };
      else if (exit.kind === 'oom') pod.status = { ...pod.status, phase: 'Failed', containerStatuses: terminated(137, 'OOMKilled') };
      else if (exit.kind === 'evicted')
        pod.status = {
          phase: 'Failed',
          reason: 'Evicted',
          message: 'The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 2Gi.',
        };
      else if (exit.kind === 'deadline')
        pod.status = {
          ...pod.status,
          phase: 'Failed',
          reason: 'DeadlineExceeded',
          message: 'Pod was active on the node longer than the specified deadline',
        };
    });
    for (const wake of record.lineWaiters) wake();
  };

  const terminal = (record: PodRecord) =>
    record.deleted || record.pod.status?.phase === 'Succeeded' || record.pod.status?.phase === 'Failed';

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    fake.requests.push(`${req.method} ${url.pathname}${url.search}`);
    const parts = url.pathname.split('/').filter(Boolean); // api v1 namespaces <ns> pods [name] [log]
    if (parts[0] !== 'api' || parts[1] !== 'v1' || parts[2] !== 'namespaces' || parts[4] !== 'pods')
      return json(res, 404, status(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`));
    const namespace = parts[3]!;
    const name = parts[5];
    const record = name === undefined ? undefined : pods.get(name);

    if (req.method === 'POST' && name === undefined) {
      let body = '';
      for await (const chunk of req) body += chunk;
      if (fake.scenario.forbidCreate) {
        return json(
          res,
          403,
          status(
            403,
            'Forbidden',
            `pods is forbidden: User "system:serviceaccount:ci:pxeforge" cannot create resource "pods" in API group "" in the namespace "${namespace}"`,
          ),
        );
      }
      const pod = JSON.parse(body) as V1Pod;
      fake.created.push(structuredClone(pod));
      const podName = pod.metadata!.name ?? `${pod.metadata!.generateName}${Math.random().toString(36).slice(2, 7)}`;
      version += 1;
      pod.metadata = {
        ...pod.metadata,
        name: podName,
        namespace,
        uid: `uid-${podName}`,
        resourceVersion: String(version),
        creationTimestamp: new Date(),
      };
      pod.status = { phase: 'Pending' };
      const created: PodRecord = { pod, printed: [], history: [pod], deleted: false, watches: 0, logs: 0, lineWaiters: new Set() };
      pods.set(podName, created);
      void live(created);
      return json(res, 201, pod);
    }
    if (req.method === 'DELETE' && record !== undefined) {
      record.deleted = true;
      fake.deleted.push(record.pod.metadata!.name!);
      // The API forgets the pod at once (grace 0); the kubelet stops its container meanwhile.
      void fake.scenario.kubelet?.remove(record.pod.metadata!.name!, Number(url.searchParams.get('gracePeriodSeconds') ?? 30));
      pods.delete(record.pod.metadata!.name!);
      for (const wake of record.lineWaiters) wake();
      for (const watcher of watchers)
        if (matches(record.pod, watcher.field)) watcher.res.write(`${JSON.stringify({ type: 'DELETED', object: record.pod })}\n`);
      return json(res, 200, record.pod);
    }
    if (req.method === 'GET' && name !== undefined && parts[6] === 'log') {
      if (record === undefined) return json(res, 404, status(404, 'NotFound', `pods "${name}" not found`));
      record.logs += 1;
      const first = record.logs === 1;
      const since = url.searchParams.get('sinceTime');
      const follow = url.searchParams.get('follow') === 'true';
      const timestamps = url.searchParams.get('timestamps') === 'true';
      res.writeHead(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' });
      let sent = 0;
      let cut = false;
      const flush = () => {
        while (sent < record.printed.length) {
          const { stamp: at, line } = record.printed[sent++]!;
          if (since !== null && stampValue(at) < stampValue(since)) continue;
          res.write(`${timestamps ? `${at} ` : ''}${line}\n`);
          if (first && fake.scenario.log === 'ends-early' && !cut && sent >= Math.floor(fake.scenario.lines(record.pod).length / 2)) {
            cut = true;
            return true;
          }
        }
        return false;
      };
      const wake = () => {
        if (flush() || !follow || terminal(record)) {
          if (terminal(record)) flush();
          record.lineWaiters.delete(wake);
          res.end();
        }
      };
      record.lineWaiters.add(wake);
      req.on('close', () => record.lineWaiters.delete(wake));
      wake();
      return;
    }
    if (req.method === 'GET' && name !== undefined) {
      if (record === undefined) return json(res, 404, status(404, 'NotFound', `pods "${name}" not found`));
      return json(res, 200, record.pod);
    }
    if (req.method === 'GET' && name === undefined) {
      const selector = url.searchParams.get('labelSelector');
      const field = url.searchParams.get('fieldSelector');
      if (url.searchParams.get('watch') !== 'true') {
        return json(res, 200, {
          kind: 'PodList',
          apiVersion: 'v1',
          metadata: { resourceVersion: String(version) },
          items: [...pods.values()].map((r) => r.pod).filter((pod) => matches(pod, selector) && matches(pod, field)),
        });
      }
      const target = [...pods.values()].find((r) => matches(r.pod, field));
      if (target !== undefined) target.watches += 1;
      const firstWatch = target !== undefined && target.watches === 1;
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      const mode = firstWatch ? (fake.scenario.watch ?? 'normal') : 'normal';
      if (mode === 'gone') {
        res.end(`${JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', 'too old resource version: 1 (100)') })}\n`);
        return;
      }
      if (mode === 'hang') {
        req.on('close', () => undefined);
        return; // never a byte: only polling sees the pod change
      }
      const from = Number(url.searchParams.get('resourceVersion') ?? 0);
      for (const pod of target?.history ?? [])
        if (Number(pod.metadata!.resourceVersion) > from) res.write(`${JSON.stringify({ type: 'MODIFIED', object: pod })}\n`);
      if (mode === 'silent-end') {
        res.end();
        return;
      }
      const watcher = { res, selector, field };
      watchers.add(watcher);
      req.on('close', () => watchers.delete(watcher));
      return;
    }
    json(res, 405, status(405, 'MethodNotAllowed', `${req.method} not supported by the fake`));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => json(res, 500, status(500, 'InternalError', String(error))));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'fake', server: url, skipTLSVerify: true }],
    users: [{ name: 'pxeforge', token: 'fake-token' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'pxeforge', namespace: 'pxeforge' }],
    currentContext: 'fake',
  });
  return Object.assign(fake, {
    url,
    kubeConfig,
    close: () =>
      new Promise<void>((resolve) => {
        // Every pod's life ends with the server.
        for (const record of pods.values()) record.deleted = true;
        for (const watcher of watchers) watcher.res.end();
        server.closeAllConnections();
        server.close(() => resolve());
      }).then(() => fake.scenario.kubelet?.close()),
  });
}
