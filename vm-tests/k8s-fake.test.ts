import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';

import { podLocalPath } from '../src/site/schema.js';
import { startFakeKube, type FakeKube } from '../test/helpers/fake-kube.js';
import { projectRoot, tempRecipeRepo, type TempRepo } from './helpers/recipe-repo.js';

/**
 * The kubernetes executor end to end with a real build and a real boot test: the fake API
 * server plays kubelet on this host, running each pod's command (`pxeforge k8s run-build`,
 * `pxeforge k8s run-test`) as a process whose output is the pod's log. What this cannot show
 * (scheduling, a privileged container, the builder image) is for `npm run test:k8s`.
 */
let repo: TempRepo;
let fake: FakeKube;

beforeAll(async () => {
  repo = await tempRecipeRepo();
  fake = await startFakeKube({
    lines: () => [],
    end: { kind: 'succeeded' },
    execute: (command) => {
      const [program, ...args] = command;
      expect(program).toBe('pxeforge');
      // The build pod's node-local volume (step cache, work trees) is a directory of this test's.
      const local = path.join(repo.root, '..', 'node-local');
      const mapped = args.map((arg) => (arg.startsWith(`${podLocalPath}/`) ? `${local}${arg.slice(podLocalPath.length)}` : arg));
      const child = spawn(process.execPath, [path.join(projectRoot, 'bin/pxeforge.js'), ...mapped], {
        cwd: '/',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      return {
        lines: createInterface({ input: child.stdout, crlfDelay: Infinity }),
        exit: new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1))),
      };
    },
  });
  const kubeconfig = path.join(repo.root, '..', 'kubeconfig.yaml');
  await writeFile(kubeconfig, fake.kubeConfig.exportConfig());
  const site = await repo.read('pxeforge.yaml');
  await repo.write(
    'pxeforge.yaml',
    `${site}kubernetes:\n  kubeconfig: ${kubeconfig}\n  image: pxeforge-builder:0.1.0\n  storage: { hostPath: ${path.dirname(repo.store)}, mountPath: ${path.dirname(repo.store)} }\n`,
  );
  await repo.git(['commit', '-qam', 'kubernetes executor']);
});
afterAll(async () => {
  await fake?.close();
  await repo?.remove();
});

describe('kubernetes executor with a real build and boot in the "pod"', () => {
  it('builds tiny through a build pod and boot-tests it through a test pod', async () => {
    const build = await repo.pxeforge(['build', 'recipes/tiny.yaml', '--executor', 'kubernetes']);
    expect(build.exitCode, build.stdout.slice(-3000) + build.stderr).toBe(0);
    // The pod's stages are rendered here like a local build's.
    expect(build.stdout).toMatch(/^\[bootstrap\] /m);
    expect(build.stdout).toMatch(/^\[pack\] done in /m);
    const version = /built tiny@(\S+) in/.exec(build.stdout)![1]!;
    const manifest = JSON.parse(await readFile(path.join(repo.store, 'images/tiny', version, 'manifest.json'), 'utf8')) as {
      executor: string;
      git: { commit: string; dirty: boolean };
    };
    expect(manifest.executor).toBe('kubernetes');
    // Provenance measured where the repository is, not in the pod's unpacked copy.
    expect(manifest.git).toEqual({ commit: (await repo.git(['rev-parse', 'HEAD'])).trim(), dirty: false });

    const test = await repo.pxeforge(['test', `tiny@${version}`, '--executor', 'kubernetes']);
    expect(test.exitCode, test.stdout.slice(-3000) + test.stderr).toBe(0);
    expect(test.stdout).toMatch(new RegExp(`^tiny@${version} via direct: PASSED`, 'm'));
    expect(fake.created.map((pod) => pod.metadata!.labels!['pxeforge.io/kind'])).toEqual(['build', 'test']);
    expect(fake.deleted).toHaveLength(2);
  });

  it("builds with the repository's own pxeforge.yaml, whose node groups name images the pod's inputs do not hold", async () => {
    // The own file as it is (channels, nodes, node groups naming compute and tiny), pointed at this test's store and cluster.
    const own = parseDocument(await readFile(path.join(projectRoot, 'pxeforge.yaml'), 'utf8'));
    const current = parseDocument(await repo.read('pxeforge.yaml'));
    for (const key of ['store', 'cache', 'tftpRoot', 'kubernetes']) own.set(key, current.get(key));
    await repo.write('pxeforge.yaml', own.toString());
    expect(own.getIn(['nodeGroups', 'compute', 'image'])).toBe('compute');
    await repo.git(['commit', '-qam', "the repository's own site config"]);
    const build = await repo.pxeforge(['build', 'recipes/tiny.yaml', '--executor', 'kubernetes']);
    expect(build.exitCode, build.stdout.slice(-3000) + build.stderr).toBe(0);
    expect(build.stdout).toMatch(/^built tiny@\S+ in /m);
  });
});
