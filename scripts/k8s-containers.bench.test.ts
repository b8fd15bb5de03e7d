// The kubernetes executor in real containers against this host, side by side in one run (run
// through scripts/bench-k8s-containers): recipes/tiny.yaml built with the local executor and
// in a privileged container, then boot-tested here and in an unprivileged container. Both
// builds start from the same warm step cache (a hostPath as the pods' node-local storage, the
// same directory as the local builds' cache), so the difference is what the container adds.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { expect, it } from 'vitest';
import { parseDocument } from 'yaml';

import { startFakeKube } from '../test/helpers/fake-kube.js';
import { startPodmanKubelet } from '../test/helpers/podman-kubelet.js';
import { ensureBuilderImage } from '../vm-tests/helpers/builder-image.js';
import { tempRecipeRepo } from '../vm-tests/helpers/recipe-repo.js';

it('local executor vs containers: build and boot test of tiny', async () => {
  const image = await ensureBuilderImage();
  const repo = await tempRecipeRepo();
  const kubelet = await startPodmanKubelet();
  const fake = await startFakeKube({ lines: () => [], end: { kind: 'succeeded' }, kubelet });
  try {
    const shared = path.dirname(repo.store);
    const local = path.join(shared, 'node-local');
    const kubeconfig = path.join(shared, 'kubeconfig.yaml');
    await writeFile(kubeconfig, fake.kubeConfig.exportConfig());
    const site = parseDocument(await repo.read('pxeforge.yaml'));
    site.set('cache', path.join(local, 'cache'));
    site.set('work', path.join(local, 'work'));
    site.set(
      'kubernetes',
      site.createNode({
        kubeconfig,
        namespace: 'pxeforge',
        image,
        storage: { hostPath: shared, mountPath: shared },
        local: { hostPath: local },
      }),
    );
    await repo.write('pxeforge.yaml', site.toString());
    await repo.git(['commit', '-qam', 'bench site']);

    const timed = async (args: string[]) => {
      const started = performance.now();
      const result = await repo.pxeforge(args);
      expect(result.exitCode, result.stdout.slice(-2000) + result.stderr).toBe(0);
      return { seconds: (performance.now() - started) / 1000, stdout: result.stdout };
    };
    const version = (stdout: string) => /built tiny@(\S+) in/.exec(stdout)![1]!;

    await timed(['build', 'recipes/tiny.yaml']); // warms the step cache both executors use
    const localBuild = await timed(['build', 'recipes/tiny.yaml']);
    const podBuild = await timed(['build', 'recipes/tiny.yaml', '--executor', 'kubernetes']);
    const localTest = await timed(['test', `tiny@${version(localBuild.stdout)}`]);
    const podTest = await timed(['test', `tiny@${version(podBuild.stdout)}`, '--executor', 'kubernetes']);

    const row = (what: string, a: number, b: number) =>
      `${what.padEnd(34)} ${a.toFixed(1).padStart(7)} s ${b.toFixed(1).padStart(10)} s ${`${(b - a).toFixed(1)} s`.padStart(10)} ${`${(((b - a) / a) * 100).toFixed(0)} %`.padStart(7)}`;
    console.log(
      [
        `${'recipes/tiny.yaml'.padEnd(34)} ${'local'.padStart(9)} ${'container'.padStart(12)} ${'overhead'.padStart(10)} ${''.padStart(7)}`,
        row('build (warm step cache)', localBuild.seconds, podBuild.seconds),
        row('boot test (TCG, direct)', localTest.seconds, podTest.seconds),
      ].join('\n'),
    );
  } finally {
    await fake.close();
    await repo.remove();
  }
});
