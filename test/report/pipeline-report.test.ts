import { appendFile, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { copyFixtureRepo, runCli } from '../helpers/cli.js';
import { startFakeKube, type FakeKube } from '../helpers/fake-kube.js';
import { makeVersion } from '../helpers/tree-site.js';

/**
 * `pipeline --report <dir>`: the report is refreshed at the end of every run, also one where a
 * recipe failed. The pipeline runs on the kubernetes executor against a fake API server (the
 * pods do not build: the test puts the version a build pod would leave into the store).
 */
let fixture: Awaited<ReturnType<typeof copyFixtureRepo>>;
let fake: FakeKube | undefined;
const version = '20261125T120000Z-3fa9c1d2';

beforeEach(async () => {
  fixture = await copyFixtureRepo();
  fake = await startFakeKube({
    lines: (pod) => {
      const labels = pod.metadata?.labels ?? {};
      if (labels['pxeforge.io/kind'] === 'test') return [JSON.stringify({ type: 'result', passed: true })];
      // The child's build pod ends without a result: that recipe fails.
      return labels['pxeforge.io/recipe'] === 'child'
        ? []
        : [JSON.stringify({ type: 'result', name: labels['pxeforge.io/recipe'], version })];
    },
    end: { kind: 'succeeded' },
  });
  const kubeconfig = path.join(fixture.root, 'kubeconfig.yaml');
  await writeFile(kubeconfig, fake.kubeConfig.exportConfig());
  await appendFile(
    path.join(fixture.root, 'pxeforge.yaml'),
    `kubernetes:\n  kubeconfig: ${kubeconfig}\n  namespace: pxeforge\n  image: pxeforge-builder:0.1.0\n  storage: { pvc: pxeforge-shared, mountPath: /srv/pxeforge }\n`,
  );
  await makeVersion(path.join(fixture.root, 'var/store'), 'base', version, { format: 'initramfs', tested: 'passed' });
});
afterEach(async () => {
  await fake?.close();
  fake = undefined;
  await fixture.remove();
});

describe('pipeline --report', () => {
  it('writes the report at the end of a run in which a recipe failed', async () => {
    const result = await runCli(
      [
        'pipeline',
        'recipes/base.yaml',
        'recipes/child.yaml',
        '--executor',
        'kubernetes',
        '--promote-to',
        'staging',
        '--report',
        'var/report',
      ],
      fixture.root,
    );
    expect(result.exitCode, result.stdout + result.stderr).toBe(1);
    expect(result.stdout).toMatch(/^child: build failed: /m);
    expect(result.stdout).toContain(`report: ${path.join(fixture.root, 'var/report/index.html')}`);
    const html = await readFile(path.join(fixture.root, 'var/report/index.html'), 'utf8');
    expect(html).toMatch(new RegExp(`<code class="version">${version}</code>`));
    expect(html).toContain('data-group="lab"');
  });

  it('refuses a report directory inside the PXE tree before anything runs', async () => {
    const result = await runCli(['pipeline', 'recipes/base.yaml', '--executor', 'kubernetes', '--report', 'var/tftp/report'], fixture.root);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('is inside the PXE tree');
    expect(fake!.created).toEqual([]);
    expect(await readdir(path.join(fixture.root, 'var')).catch(() => [])).not.toContain('tftp');
  });
});
