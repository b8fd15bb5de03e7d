import { access, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';

import { clientFromConfig } from '../src/executors/kubernetes/client.js';
import { podManifest } from '../src/executors/kubernetes/pod-manifest.js';
import { runPod } from '../src/executors/kubernetes/run-pod.js';
import { podLocalPath } from '../src/site/schema.js';
import { listVersions } from '../src/store/store.js';
import { startFakeKube, type FakeKube } from '../test/helpers/fake-kube.js';
import { quantityBytes, startPodmanKubelet, type PodmanKubelet } from '../test/helpers/podman-kubelet.js';
import { ensureBuilderImage } from './helpers/builder-image.js';
import { mountsUnder, projectRoot, tempRecipeRepo, waitForOutput, type TempRepo } from './helpers/recipe-repo.js';

/**
 * The kubernetes executor against real containers: the fake API server speaks the wire
 * protocol as before, but its kubelet runs each pod as a podman container of the builder
 * image — the build privileged, the boot test unprivileged (QEMU with TCG) — with the shared
 * store and cache as a hostPath volume at the same path. One store, cache and image for all
 * cases; the cases run in order (the interrupted build's clean-up is proven by the next build).
 */
let repo: TempRepo;
let fake: FakeKube;
let kubelet: PodmanKubelet;
let image: string;
let shared: string;
let version: string;

const versions = async () => readdir(path.join(repo.store, 'images/tiny')).catch(() => [] as string[]);

beforeAll(async () => {
  image = await ensureBuilderImage();
  repo = await tempRecipeRepo();
  shared = path.dirname(repo.store);
  kubelet = await startPodmanKubelet();
  fake = await startFakeKube({ lines: () => [], end: { kind: 'succeeded' }, kubelet });
  const kubeconfig = path.join(shared, 'kubeconfig.yaml');
  await writeFile(kubeconfig, fake.kubeConfig.exportConfig());
  // This repository's own pxeforge.yaml (channels, nodes, node groups), pointed at this test's store, tree and cluster.
  const own = parseDocument(await readFile(path.join(projectRoot, 'pxeforge.yaml'), 'utf8'));
  own.set('store', repo.store);
  own.set('cache', repo.cache);
  own.set('tftpRoot', path.join(shared, 'tftp'));
  own.set('kubernetes', own.createNode({ kubeconfig, namespace: 'pxeforge', image, storage: { hostPath: shared, mountPath: shared } }));
  await repo.write('pxeforge.yaml', own.toString());
  await repo.git(['commit', '-qam', "the repository's own site config, on a cluster"]);
});
afterAll(async () => {
  await fake?.close();
  if (kubelet !== undefined) expect(await kubelet.containers()).toEqual([]);
  await repo?.remove();
});

describe('the kubelet runs pods as containers', () => {
  const run = (kind: 'build' | 'test', command: string[], config: { memory?: string; deadline?: number } = {}) => {
    const lines: string[] = [];
    const manifest = podManifest({
      kind,
      image: 'probe',
      runId: 'probe',
      arch: 'amd64',
      command,
      config: {
        namespace: 'pxeforge',
        image,
        storage: { hostPath: shared, mountPath: shared },
        kvm: false,
        ...(config.memory === undefined ? {} : { resources: { [kind]: { memory: config.memory } } }),
        ...(config.deadline === undefined ? {} : { deadlines: { buildSeconds: config.deadline, testSeconds: config.deadline } }),
      } as Parameters<typeof podManifest>[0]['config'],
    });
    // sleep as pid 1 ignores SIGTERM: a short grace period after the deadline.
    manifest.spec!.terminationGracePeriodSeconds = 1;
    // An emptyDir and a claim besides the shared volume.
    manifest.spec!.volumes!.push(
      { name: 'scratch', emptyDir: {} },
      { name: 'claim', persistentVolumeClaim: { claimName: 'probe' } },
      { name: 'made', hostPath: { path: path.join(shared, 'made-by-kubelet'), type: 'DirectoryOrCreate' } },
    );
    manifest.spec!.containers[0]!.volumeMounts!.push(
      { name: 'scratch', mountPath: '/scratch' },
      { name: 'claim', mountPath: '/claim' },
      { name: 'made', mountPath: '/made' },
    );
    const client = clientFromConfig(fake.kubeConfig, 'pxeforge');
    const done = runPod(client, manifest, {
      emit: () => undefined,
      signal: new AbortController().signal,
      onLine: (line) => lines.push(line),
      what: 'probe',
      pollMs: 500,
    });
    return { lines, done };
  };

  it('env, security context, volumes, stdout and stderr in order, the exit code; the container and emptyDir go with the pod', async () => {
    const probe = run('test', [
      'sh',
      '-c',
      `echo CI=$CI; grep NoNewPrivs /proc/self/status; echo to-stderr >&2; touch ${shared}/from-pod /scratch/x /claim/kept /made/here; ls /scratch; exit 3`,
    ]);
    await expect(probe.done).rejects.toThrow(/probe: pod \S+ failed: Error, exit code 3/);
    expect(probe.lines).toEqual(['CI=true', 'NoNewPrivs:\t1', 'to-stderr', 'x']);
    await access(path.join(shared, 'from-pod'));
    await access(path.join(shared, 'made-by-kubelet/here'));
    const ran = kubelet.ran.at(-1)!;
    expect(ran).toMatchObject({
      privileged: false,
      memory: 0,
      labels: { 'pxeforge.io/kind': 'test', 'app.kubernetes.io/name': 'pxeforge' },
    });
    expect(ran.securityOpt).toContain('no-new-privileges');
    expect(ran.mounts[shared]).toBe(shared);
    await kubelet.settled();
    expect(await kubelet.containers()).toEqual([]);
    await expect(access(ran.mounts['/scratch']!)).rejects.toThrow(/ENOENT/);
    // The claim outlives the pod; the next pod's emptyDir is a new one.
    const next = run('test', ['ls', '/claim', '/scratch']);
    await next.done;
    expect(next.lines).toEqual(['/claim:', 'kept', '', '/scratch:']);
  });

  it('a privileged build pod may mount; a memory limit is a real OOM kill; the deadline stops the container', async () => {
    const privileged = run('build', ['sh', '-c', 'mount -t tmpfs none /mnt && echo mounted']);
    await privileged.done;
    expect(privileged.lines).toEqual(['mounted']);
    expect(kubelet.ran.at(-1)).toMatchObject({ privileged: true });

    const hog = run('test', ['sh', '-c', 'echo start; x=$(head -c 300000000 /dev/zero | tr "\\0" a); echo survived'], { memory: '48Mi' });
    await expect(hog.done).rejects.toThrow(/ran out of memory \(OOMKilled at its limit of 48Mi\)/);
    expect(hog.lines).toEqual(['start']);
    expect(kubelet.ran.at(-1)!.memory).toBe(quantityBytes('48Mi'));

    const started = Date.now();
    const slow = run('test', ['sleep', '600'], { deadline: 3 });
    await expect(slow.done).rejects.toThrow(/ran past its deadline of 3 s and was stopped/);
    expect(Date.now() - started).toBeLessThan(60_000);
    await kubelet.settled();
    expect(await kubelet.containers()).toEqual([]);
  });
});

describe('pxeforge --executor kubernetes in containers', () => {
  it('Ctrl-C during the build: the container is gone, nothing mounted, no partial version', async () => {
    const before = await versions();
    const child = repo.pxeforge(['build', 'recipes/tiny.yaml', '--executor', 'kubernetes']);
    await waitForOutput(child, '[bootstrap] I: ');
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode, result.stdout.slice(-2000) + result.stderr).toBe(130);
    expect(result.stderr).toContain('interrupted');
    await kubelet.settled();
    expect(await kubelet.containers()).toEqual([]);
    expect(await mountsUnder(shared)).toEqual([]);
    expect(await versions()).toEqual(before);
    // The build pod's node-local emptyDir (step cache, work trees) went with it.
    const local = kubelet.ran.at(-1)!.mounts[podLocalPath]!;
    expect(local).toContain(tmpdir());
    expect(await mountsUnder(local)).toEqual([]);
    await expect(access(local)).rejects.toThrow(/ENOENT/);
  });

  it("builds tiny in a privileged container with the repository's own pxeforge.yaml, into the shared store", async () => {
    const build = await repo.pxeforge(['build', 'recipes/tiny.yaml', '--executor', 'kubernetes']);
    expect(build.exitCode, build.stdout.slice(-3000) + build.stderr).toBe(0);
    expect(build.stdout).toMatch(/^\[pack\] done in /m);
    version = /built tiny@(\S+) in/.exec(build.stdout)![1]!;
    const manifest = JSON.parse(await readFile(path.join(repo.store, 'images/tiny', version, 'manifest.json'), 'utf8')) as {
      executor: string;
    };
    expect(manifest.executor).toBe('kubernetes');
    expect(kubelet.ran.at(-1)).toMatchObject({ privileged: true, labels: { 'pxeforge.io/kind': 'build', 'pxeforge.io/recipe': 'tiny' } });
    expect(await kubelet.containers()).toEqual([]);
  });

  it('boot-tests it in an unprivileged container (QEMU with TCG)', async () => {
    const test = await repo.pxeforge(['test', `tiny@${version}`, '--executor', 'kubernetes']);
    expect(test.exitCode, test.stdout.slice(-3000) + test.stderr).toBe(0);
    expect(test.stdout).toMatch(new RegExp(`^tiny@${version} via direct: PASSED`, 'm'));
    expect(kubelet.ran.at(-1)).toMatchObject({ privileged: false, labels: { 'pxeforge.io/kind': 'test' } });
    expect(kubelet.ran.at(-1)!.securityOpt).toContain('no-new-privileges');
  });

  it('runs the pipeline end to end and promotes to staging on this host', async () => {
    const result = await repo.pxeforge(['--json', 'pipeline', 'recipes/tiny.yaml', '--executor', 'kubernetes', '--promote-to', 'staging']);
    expect(result.exitCode, result.stdout.slice(-3000) + result.stderr).toBe(0);
    const last = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { outcomes: { recipe: string; promotedTo: string | null }[] };
    expect(last.outcomes).toMatchObject([{ recipe: 'tiny', promotedTo: 'staging', failure: null, test: { passed: true } }]);
    expect((await repo.pxeforge(['status'])).stdout).toMatch(/canary +.*staging: tiny@\S+/);
  });

  it('a build memory limit too small is a real OOM kill, reported with the limit', async () => {
    const site = await repo.read('pxeforge.yaml');
    const small = parseDocument(site);
    small.setIn(['kubernetes', 'resources'], small.createNode({ build: { memory: '100Mi' } }));
    await repo.write('pxeforge.yaml', small.toString());
    try {
      const before = await versions();
      const build = await repo.pxeforge(['build', 'recipes/tiny.yaml', '--executor', 'kubernetes', '--no-cache']);
      expect(build.exitCode, build.stdout.slice(-3000) + build.stderr).toBe(1);
      expect(build.stderr).toMatch(/build of tiny: pod \S+ ran out of memory \(OOMKilled at its limit of 100Mi\)/);
      expect(build.stderr).toContain('raise kubernetes.resources.*.memory in pxeforge.yaml');
      expect(kubelet.ran.at(-1)!.memory).toBe(quantityBytes('100Mi'));
      // No version. (The killed build's staging directory, `.incoming-<version>`, stays until the next build of the image
      // finds its lock stale and removes it: test/store/staging.test.ts.)
      expect(await listVersions(repo.store, 'tiny')).toEqual(before.filter((entry) => !entry.startsWith('.')));
    } finally {
      await repo.write('pxeforge.yaml', site);
    }
  });
});
