import { appendFile, readFile } from 'node:fs/promises';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { tempRecipeRepo, type TempRepo } from './helpers/recipe-repo.js';

/**
 * Opt-in (`npm run test:k8s`): a tiny build and its boot test as pods on a real cluster.
 * Needs KUBECONFIG, a namespace prepared with deploy/namespace.yaml and deploy/rbac.yaml, the
 * builder image (deploy/Containerfile) pushed where the nodes pull from (PXEFORGE_K8S_IMAGE),
 * and shared storage mounted on this host and in the pods at the same path
 * (PXEFORGE_K8S_SHARED, a hostPath on every node, or PXEFORGE_K8S_PVC for a claim).
 */
const enabled = process.env.PXEFORGE_K8S_TEST === '1' && process.env.KUBECONFIG !== undefined;
const shared = process.env.PXEFORGE_K8S_SHARED ?? '/srv/pxeforge';

describe.skipIf(!enabled)('on a real cluster', () => {
  let repo: TempRepo;
  beforeAll(async () => {
    repo = await tempRecipeRepo();
    const storage = process.env.PXEFORGE_K8S_PVC
      ? `{ pvc: ${process.env.PXEFORGE_K8S_PVC}, mountPath: ${shared} }`
      : `{ hostPath: ${shared}, mountPath: ${shared} }`;
    const site = await repo.read('pxeforge.yaml');
    await repo.write(
      'pxeforge.yaml',
      site.replace(/^store: .*$/m, `store: ${shared}/store`).replace(/^cache: .*$/m, `cache: ${shared}/cache`),
    );
    await appendFile(
      path.join(repo.root, 'pxeforge.yaml'),
      `kubernetes:\n  namespace: ${process.env.PXEFORGE_K8S_NAMESPACE ?? 'pxeforge'}\n  image: ${process.env.PXEFORGE_K8S_IMAGE ?? 'pxeforge-builder:0.1.0'}\n  storage: ${storage}\n  kvm: ${process.env.PXEFORGE_K8S_KVM === '1'}\n`,
    );
  });
  afterAll(async () => {
    await repo?.pxeforge(['k8s', 'cleanup']);
    await repo?.remove();
  });

  it('builds recipes/tiny.yaml in a pod and boot-tests it in another', { timeout: 3_600_000 }, async () => {
    const build = await repo.pxeforge(['build', 'recipes/tiny.yaml', '--executor', 'kubernetes']);
    expect(build.exitCode, build.stdout + build.stderr).toBe(0);
    const version = /built tiny@(\S+) in/.exec(build.stdout)![1]!;
    const manifest = JSON.parse(await readFile(path.join(shared, 'store/images/tiny', version, 'manifest.json'), 'utf8')) as {
      executor: string;
      git: { commit: string | null };
    };
    expect(manifest.executor).toBe('kubernetes');
    expect(manifest.git.commit).toMatch(/^[0-9a-f]{40}$/);
    const test = await repo.pxeforge(['test', `tiny@${version}`, '--executor', 'kubernetes']);
    expect(test.exitCode, test.stdout + test.stderr).toBe(0);
    expect(test.stdout).toContain('PASSED');
  });
});
