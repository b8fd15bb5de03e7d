import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

import type { V1Container, V1ContainerStatus, V1Pod, V1PodStatus, V1Volume } from '@kubernetes/client-node';
import { execa } from 'execa';

/**
 * The kubelet of the fake API server (test/helpers/fake-kube.ts) in its container mode: each
 * pod runs as a real podman container — image, command and args, env, privileged or not,
 * allowPrivilegeEscalation, volumes (hostPath; a PVC as a bind mount or a podman volume;
 * emptyDir as a per-pod temp dir), the memory limit (a real OOM kill, reported OOMKilled),
 * activeDeadlineSeconds (killed and reported DeadlineExceeded) and labels — and its end
 * becomes the pod's phase and containerStatuses the way a kubelet reports them. Logs are read
 * with `podman logs --timestamps`.
 *
 * Everything it starts carries the label of its run (and the pid of its process): `close()`
 * removes it, an exit handler removes it when the process exits without closing, and a new
 * kubelet first removes what a kubelet whose process is gone left behind (an interrupted run).
 */

/** Label of every container and volume a kubelet starts: its run id. */
export const runLabel = 'io.pxeforge.test.kubelet-run';
/** Label with the pid of the process whose kubelet started it: dead → left over. */
export const ownerLabel = 'io.pxeforge.test.kubelet-pid';
/** The kubelet's directory in the temp dir: this prefix, then the pid of its process. */
const homePrefix = 'pxeforge-kubelet-';

export interface KubeletHooks {
  /** The pod's new status (published by the API server as a MODIFIED event). */
  status(status: V1PodStatus): void;
  /** A line the container printed, with its RFC3339Nano timestamp. */
  line(stamp: string, line: string): void;
}

export interface PodmanKubeletOptions {
  /** PVC claim name → host directory to bind; a claim not listed is a podman volume of this run. */
  pvcs?: Record<string, string>;
  /** The environment podman runs with (e.g. CONTAINERS_CONF). */
  env?: NodeJS.ProcessEnv;
}

/** How podman ran a pod's container (read back with `podman inspect` once it started). */
export interface RanContainer {
  pod: string;
  privileged: boolean;
  /** The memory limit in bytes (0: none). */
  memory: number;
  securityOpt: string[];
  labels: Record<string, string>;
  /** Mount destination → source on the host. */
  mounts: Record<string, string>;
}

export interface PodmanKubelet {
  runId: string;
  /** Every container started, in order. */
  ran: RanContainer[];
  /** Runs the pod to its end (the last status published) or until it is removed. */
  run(pod: V1Pod, hooks: KubeletHooks): Promise<void>;
  /** Pod deletion: the container is stopped (within the grace period, at least 2 s as a kubelet does) and removed. */
  remove(podName: string, graceSeconds?: number, minimumSeconds?: number): Promise<void>;
  /** Resolves once every removal asked for so far is done. */
  settled(): Promise<void>;
  /** Names of this run's containers that still exist. */
  containers(): Promise<string[]>;
  /** Every container, volume and temp dir of this run removed. */
  close(): Promise<void>;
}

interface PodState {
  container?: string;
  deleted: boolean;
  emptyDirs: string[];
  logs?: ChildProcess;
  deadline?: NodeJS.Timeout;
}

const waitingStatus = (container: V1Container, reason: string, message?: string): V1ContainerStatus => ({
  name: container.name,
  image: container.image ?? '',
  imageID: '',
  ready: false,
  restartCount: 0,
  started: false,
  state: { waiting: { reason, ...(message === undefined ? {} : { message }) } },
});

/** A Kubernetes quantity ("512Mi", "1G", "100000") in bytes. */
export function quantityBytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  if (match === null) throw new Error(`not a memory quantity: ${quantity}`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[match[2] ?? ''] ?? 1;
  return Math.round(Number(match[1]) * unit);
}

/** podman's log timestamp (RFC3339 with nanoseconds, any offset) → Kubernetes' RFC3339Nano in UTC, trailing zeros trimmed. */
export function kubeStamp(stamp: string): string {
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(stamp);
  if (match === null) throw new Error(`not a timestamp: ${stamp}`);
  const seconds = new Date(`${match[1]}${match[3]}`).toISOString().slice(0, 19);
  const fraction = (match[2] ?? '').padEnd(9, '0').slice(0, 9).replace(/0+$/, '');
  return `${seconds}${fraction ? `.${fraction}` : ''}Z`;
}

/** Whether the kernel logged an OOM kill for the memory cgroup of this container (how cAdvisor finds OOM kills). */
async function oomKilled(containerId: string): Promise<boolean> {
  const kernel = await execa('dmesg', ['--kernel', '--notime'], { reject: false });
  return kernel.stdout
    .split('\n')
    .some((line) => line.startsWith('oom-kill:') && line.includes(`oom_memcg=`) && line.includes(containerId));
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function startPodmanKubelet(options: PodmanKubeletOptions = {}): Promise<PodmanKubelet> {
  const runId = randomBytes(5).toString('hex');
  const env = { ...process.env, ...options.env };
  // The kubelet's own directory: emptyDir volumes, and the working directory of `podman run` (conmon leaves files there).
  const home = await mkdtemp(path.join(tmpdir(), `${homePrefix}${process.pid}-`));
  const podman = (args: string[], cwd = '/') => execa('podman', args, { env, cwd, reject: false });
  const pods = new Map<string, PodState>();
  const removals = new Set<Promise<void>>();
  const ran: RanContainer[] = [];

  // What kubelets of processes that are gone left behind (an interrupted test run).
  const listed = await podman(['ps', '-a', '--filter', `label=${ownerLabel}`, '--format', `{{.ID}} {{index .Labels "${ownerLabel}"}}`]);
  if (listed.exitCode !== 0) throw new Error(`podman does not work here: ${listed.stderr}`);
  const stale = listed.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' '))
    .filter(([, pid]) => !processAlive(Number(pid)))
    .map(([id]) => id!);
  if (stale.length > 0) await podman(['rm', '--force', '--time', '0', ...stale]);
  const volumes = await podman(['volume', 'ls', '--quiet']);
  for (const volume of volumes.stdout.split('\n').filter((name) => name.startsWith(homePrefix))) {
    const pid = Number(volume.slice(homePrefix.length).split('-')[0]);
    if (pid > 0 && !processAlive(pid)) await podman(['volume', 'rm', '--force', volume]);
  }
  for (const entry of await readdir(tmpdir())) {
    const pid = entry.startsWith(homePrefix) ? Number(entry.slice(homePrefix.length).split('-')[0]) : Number.NaN;
    if (pid > 0 && !processAlive(pid)) await rm(path.join(tmpdir(), entry), { recursive: true, force: true });
  }

  const removeAllSync = () => {
    const ids = spawnSync('podman', ['ps', '-aq', '--filter', `label=${runLabel}=${runId}`], { env, encoding: 'utf8' }).stdout;
    const list = ids.split('\n').filter(Boolean);
    if (list.length > 0) spawnSync('podman', ['rm', '--force', '--time', '0', ...list], { env });
    rmSync(home, { recursive: true, force: true });
  };
  process.once('exit', removeAllSync);

  const stopPod = async (state: PodState, graceSeconds: number) => {
    if (state.deadline !== undefined) clearTimeout(state.deadline);
    if (state.container !== undefined) await podman(['rm', '--force', '--time', String(graceSeconds), state.container]);
    state.logs?.kill('SIGKILL');
    for (const dir of state.emptyDirs) await rm(dir, { recursive: true, force: true });
    state.emptyDirs = [];
  };

  const volumeArgs = async (pod: V1Pod, container: V1Container, state: PodState): Promise<string[]> => {
    const volumes = new Map<string, V1Volume>((pod.spec?.volumes ?? []).map((volume) => [volume.name, volume]));
    const args: string[] = [];
    for (const mount of container.volumeMounts ?? []) {
      const volume = volumes.get(mount.name);
      if (volume === undefined) throw new Error(`volumeMount ${mount.name} names no volume of the pod`);
      const mode = mount.readOnly ? 'ro' : 'rw';
      if (volume.hostPath !== undefined) {
        const type = volume.hostPath.type ?? '';
        let found = await stat(volume.hostPath.path).catch(() => undefined);
        if (type === 'DirectoryOrCreate' && found === undefined) {
          await mkdir(volume.hostPath.path, { recursive: true, mode: 0o755 });
          found = await stat(volume.hostPath.path);
        }
        if ((type === 'Directory' || type === 'DirectoryOrCreate') && !found?.isDirectory())
          throw new Error(
            `MountVolume.SetUp failed for volume "${mount.name}": hostPath type check failed: ${volume.hostPath.path} is not a directory`,
          );
        args.push('--volume', `${volume.hostPath.path}:${mount.mountPath}:${mode}`);
      } else if (volume.emptyDir !== undefined) {
        if (volume.emptyDir.medium === 'Memory') {
          const size = volume.emptyDir.sizeLimit === undefined ? '' : `,size=${quantityBytes(volume.emptyDir.sizeLimit)}`;
          args.push('--mount', `type=tmpfs,destination=${mount.mountPath}${size}`);
        } else {
          const dir = await mkdtemp(path.join(home, 'emptydir-'));
          state.emptyDirs.push(dir);
          args.push('--volume', `${dir}:${mount.mountPath}:${mode}`);
        }
      } else if (volume.persistentVolumeClaim !== undefined) {
        const claim = volume.persistentVolumeClaim.claimName;
        const bound = options.pvcs?.[claim];
        if (bound !== undefined) args.push('--volume', `${bound}:${mount.mountPath}:${mode}`);
        else {
          const name = `${homePrefix}${process.pid}-${runId}-pvc-${claim}`;
          if ((await podman(['volume', 'exists', name])).exitCode !== 0)
            await podman(['volume', 'create', '--label', `${runLabel}=${runId}`, '--label', `${ownerLabel}=${process.pid}`, name]);
          args.push('--volume', `${name}:${mount.mountPath}:${mode}`);
        }
      } else throw new Error(`volume ${mount.name}: only hostPath, emptyDir and persistentVolumeClaim are supported`);
    }
    return args;
  };

  const run = async (pod: V1Pod, hooks: KubeletHooks) => {
    const podName = pod.metadata!.name!;
    const spec = pod.spec!;
    const container = spec.containers[0]!;
    const state: PodState = { deleted: false, emptyDirs: [] };
    pods.set(podName, state);
    hooks.status({ phase: 'Pending', containerStatuses: [waitingStatus(container, 'ContainerCreating')] });

    const image = container.image ?? '';
    if ((await podman(['image', 'exists', image])).exitCode !== 0) {
      hooks.status({
        phase: 'Pending',
        containerStatuses: [waitingStatus(container, 'ErrImagePull', `image "${image}" is not among this node's images (no registry)`)],
      });
      return;
    }
    const name = `k8s_${container.name}_${podName}_${pod.metadata!.namespace}_${runId}`;
    const args = ['run', '--detach', '--name', name, '--pull', 'never', '--log-driver', 'k8s-file'];
    // The fake has no pod network: the host's network stands in for it.
    args.push('--network', 'host');
    args.push('--label', `${runLabel}=${runId}`, '--label', `${ownerLabel}=${process.pid}`);
    for (const [key, value] of Object.entries(pod.metadata?.labels ?? {})) args.push('--label', `${key}=${value}`);
    const security = container.securityContext ?? {};
    if (security.privileged === true) args.push('--privileged');
    if (security.allowPrivilegeEscalation === false) args.push('--security-opt', 'no-new-privileges');
    const memory = container.resources?.limits?.memory;
    if (memory !== undefined) {
      // No swap: the limit is the container's memory, as on a kubelet's node.
      const bytes = String(quantityBytes(memory));
      args.push('--memory', bytes, '--memory-swap', bytes);
    }
    for (const variable of container.env ?? []) {
      if (variable.value === undefined) throw new Error(`env ${variable.name}: only plain values are supported`);
      args.push('--env', `${variable.name}=${variable.value}`);
    }
    if (container.workingDir !== undefined) args.push('--workdir', container.workingDir);
    try {
      args.push(...(await volumeArgs(pod, container, state)));
    } catch (error) {
      await stopPod(state, 0);
      hooks.status({
        phase: 'Pending',
        containerStatuses: [waitingStatus(container, 'CreateContainerConfigError', (error as Error).message)],
      });
      return;
    }
    if (container.command !== undefined) args.push('--entrypoint', JSON.stringify(container.command));
    args.push(image, ...(container.args ?? []));
    if (state.deleted) return stopPod(state, 0);

    state.container = name;
    const started = await podman(args, home);
    // Deleted while the container was being made: the removal may have come before it existed.
    if (state.deleted) return stopPod(state, 0);
    const inspect = async () => {
      const result = await podman(['inspect', '--format', 'json', name]);
      const [info] = JSON.parse(result.stdout) as [
        {
          Id: string;
          ImageDigest?: string;
          State: { ExitCode: number; OOMKilled: boolean; StartedAt: string; FinishedAt: string };
          HostConfig: { Privileged: boolean; Memory: number; SecurityOpt: string[] | null };
          Config: { Labels: Record<string, string> | null };
          Mounts: { Destination: string; Source: string }[] | null;
        },
      ];
      return info;
    };
    if (started.exitCode !== 0) {
      // The runtime could not start the command (as a kubelet reports it: terminated, StartError, 128).
      const now = new Date();
      hooks.status({
        phase: 'Failed',
        containerStatuses: [
          {
            ...waitingStatus(container, ''),
            state: { terminated: { exitCode: 128, reason: 'StartError', message: started.stderr.trim(), startedAt: now, finishedAt: now } },
          },
        ],
      });
      return;
    }
    const info = await inspect();
    ran.push({
      pod: podName,
      privileged: info.HostConfig.Privileged,
      memory: info.HostConfig.Memory,
      securityOpt: info.HostConfig.SecurityOpt ?? [],
      labels: info.Config.Labels ?? {},
      mounts: Object.fromEntries((info.Mounts ?? []).map((mount) => [mount.Destination, mount.Source])),
    });
    const startedAt = new Date(info.State.StartedAt);
    const containerID = `podman://${info.Id}`;
    const containerStatus = (ready: boolean, state: V1ContainerStatus['state']): V1ContainerStatus => ({
      name: container.name,
      image,
      imageID: info.ImageDigest ?? '',
      containerID,
      ready,
      started: ready,
      restartCount: 0,
      state,
    });
    const startTime = new Date();
    hooks.status({ phase: 'Running', startTime, containerStatuses: [containerStatus(true, { running: { startedAt } })] });

    // The log, stdout and stderr in the order written (one pipe), with podman's timestamps.
    const logs = spawn('sh', ['-c', 'exec podman logs --follow --timestamps "$1" 2>&1', 'sh', info.Id], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    state.logs = logs;
    const logged = new Promise<void>((resolve) => {
      createInterface({ input: logs.stdout!, crlfDelay: Infinity })
        .on('line', (raw) => {
          const space = raw.indexOf(' ');
          if (space > 0 && /^\d{4}-/.test(raw)) hooks.line(kubeStamp(raw.slice(0, space)), raw.slice(space + 1));
        })
        .on('close', resolve);
    });

    // activeDeadlineSeconds counts from the pod's start; the kubelet then kills it (within its grace period).
    let deadlineExceeded = false;
    if (spec.activeDeadlineSeconds !== undefined) {
      state.deadline = setTimeout(() => {
        deadlineExceeded = true;
        void podman(['stop', '--time', String(spec.terminationGracePeriodSeconds ?? 30), name]);
      }, spec.activeDeadlineSeconds * 1000);
    }
    await podman(['wait', name]);
    clearTimeout(state.deadline);
    await logged;
    if (state.deleted) return;
    const ended = await inspect();
    const exitCode = ended.State.ExitCode;
    const oom = exitCode !== 0 && (ended.State.OOMKilled || (await oomKilled(info.Id)));
    const terminated = {
      exitCode,
      reason: oom ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error',
      startedAt,
      finishedAt: new Date(ended.State.FinishedAt),
      containerID,
    };
    if (state.deleted) return;
    hooks.status({
      phase: exitCode === 0 && !deadlineExceeded ? 'Succeeded' : 'Failed',
      startTime,
      ...(deadlineExceeded ? { reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' } : {}),
      containerStatuses: [containerStatus(false, { terminated })],
    });
  };

  const kubelet: PodmanKubelet = {
    runId,
    ran,
    run,
    remove(podName, graceSeconds = 30, minimumSeconds = 2) {
      const state = pods.get(podName);
      if (state === undefined) return Promise.resolve();
      state.deleted = true;
      pods.delete(podName);
      const removal = stopPod(state, Math.max(graceSeconds, minimumSeconds));
      removals.add(removal);
      void removal.finally(() => removals.delete(removal));
      return removal;
    },
    async settled() {
      while (removals.size > 0) await Promise.all([...removals]);
    },
    async containers() {
      const listed = await podman(['ps', '-a', '--filter', `label=${runLabel}=${runId}`, '--format', '{{.Names}}']);
      return listed.stdout.split('\n').filter(Boolean);
    },
    async close() {
      for (const [podName] of pods) void kubelet.remove(podName, 0, 0);
      await kubelet.settled();
      removeAllSync();
      const volumes = await podman(['volume', 'ls', '-q', '--filter', `label=${runLabel}=${runId}`]);
      for (const volume of volumes.stdout.split('\n').filter(Boolean)) await podman(['volume', 'rm', '--force', volume]);
      process.off('exit', removeAllSync);
    },
  };
  return kubelet;
}
