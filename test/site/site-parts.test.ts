import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { recipeRepo } from '../../src/recipe/repo.js';
import { loadBuildSettings, loadExecutors, loadSite, loadSiteConfig, loadSiteTree } from '../../src/site/site-config.js';
import { copyFixtureRepo } from '../helpers/cli.js';

let repo: { root: string; remove(): Promise<void> };
beforeEach(async () => {
  repo = await copyFixtureRepo();
});
afterEach(async () => {
  await repo.remove();
});

const write = (text: string) => writeFile(path.join(repo.root, 'pxeforge.yaml'), text);
const located = (problems: { line?: number; column?: number; path: string; message: string }[]) =>
  problems.map((p) => `${p.line}:${p.column}: ${p.path}: ${p.message}`);

const absentImage = `store: var/images
nodeGroups:
  compute: { image: compute, channel: staging, macs: ["52:54:00:00:00:01"] }
kubernetes: { image: builder:1, storage: { pvc: shared, mountPath: /srv } }
`;

describe('the parts of pxeforge.yaml', () => {
  it('node groups naming absent recipes load fine as build settings', async () => {
    await write(absentImage);
    const { site, problems } = await loadBuildSettings(recipeRepo(repo.root));
    expect(problems).toEqual([]);
    expect(site).toEqual({
      file: path.join(repo.root, 'pxeforge.yaml'),
      store: path.join(repo.root, 'var/images'),
      cache: path.join(repo.root, 'var/cache'),
      work: path.join(repo.root, 'var/cache/work'),
      mirror: 'host',
    });
  });

  it('`work` places work trees apart from the cache (relative to the file)', async () => {
    await write('store: /srv/pxeforge/store\ncache: /var/cache/pxeforge\nwork: scratch/work\n');
    const { site, problems } = await loadBuildSettings(recipeRepo(repo.root));
    expect(problems).toEqual([]);
    expect(site).toMatchObject({ store: '/srv/pxeforge/store', cache: '/var/cache/pxeforge', work: path.join(repo.root, 'scratch/work') });
  });

  it('kubernetes.local: an emptyDir (with a size limit) or a hostPath; bad values are located', async () => {
    const kubernetes = (local: string, mountPath = '/srv') =>
      `kubernetes:\n  image: builder:1\n  storage: { pvc: shared, mountPath: ${mountPath} }\n  local: ${local}\n`;
    for (const [local, parsed] of [
      ['{ emptyDir: {} }', { emptyDir: {} }],
      ['{ emptyDir: { sizeLimit: 50Gi } }', { emptyDir: { sizeLimit: '50Gi' } }],
      ['{ hostPath: /var/lib/pxeforge }', { hostPath: '/var/lib/pxeforge' }],
    ] as const) {
      await write(kubernetes(local));
      const { site, problems } = await loadExecutors(recipeRepo(repo.root));
      expect(problems).toEqual([]);
      expect(site?.kubernetes?.local).toEqual(parsed);
    }
    await write('kubernetes:\n  image: builder:1\n  storage: { pvc: shared, mountPath: /srv }\n');
    expect((await loadExecutors(recipeRepo(repo.root))).site?.kubernetes?.local).toBeUndefined();

    await write(kubernetes('{ emptyDir: { sizeLimit: lots } }'));
    expect(located((await loadExecutors(recipeRepo(repo.root))).problems)).toEqual([
      '4:35: kubernetes.local.emptyDir.sizeLimit: is not a storage quantity (e.g. 4Gi)',
    ]);
    await write(kubernetes('{ hostPath: relative/dir }'));
    expect(located((await loadExecutors(recipeRepo(repo.root))).problems).join()).toContain('4:22: kubernetes.local.hostPath');
    await write(kubernetes('{ emptyDir: {} }', '/var/lib/pxeforge'));
    expect(located((await loadExecutors(recipeRepo(repo.root))).problems)).toEqual([
      '3:38: kubernetes.storage.mountPath: overlaps /var/lib/pxeforge, where build pods mount their node-local storage: mount the shared storage elsewhere',
    ]);
  });

  it('as a tree, the same file reports the located problem', async () => {
    await write(absentImage);
    const { site, problems } = await loadSiteTree(recipeRepo(repo.root), ['base']);
    expect(site).toBeUndefined();
    expect(located(problems)).toEqual(['3:21: nodeGroups.compute.image: no recipe named `compute`']);
    const all = await loadSiteConfig(recipeRepo(repo.root), ['base']);
    expect(located(all.problems)).toEqual(located(problems));
  });

  it('a tree read without recipe names does not check images', async () => {
    await write(absentImage);
    const { site, problems } = await loadSiteTree(recipeRepo(repo.root));
    expect(problems).toEqual([]);
    expect(site?.nodeGroups.map((group) => group.image)).toEqual(['compute']);
    expect(site?.tftpRoot).toBe(path.join(repo.root, 'var/tftp'));
    expect(site).not.toHaveProperty('store');
  });

  it('the executors part has the kubernetes section, defaults applied', async () => {
    await write(absentImage);
    const { site, problems } = await loadExecutors(recipeRepo(repo.root));
    expect(problems).toEqual([]);
    expect(site?.kubernetes).toMatchObject({ namespace: 'pxeforge', image: 'builder:1' });
    expect(site).not.toHaveProperty('store');
  });

  it('each part checks its own values only; a setting the format does not know is refused by each', async () => {
    await write('store: ""\ntftpRoot: ""\nkubernetes: { image: "" }\nstorre: x\n');
    const root = recipeRepo(repo.root);
    const messages = async (parts: readonly ('build' | 'tree' | 'executors')[]) =>
      (await loadSite(root, parts, [])).problems.map((p) => p.path);
    expect(await messages(['build'])).toEqual(['store', 'storre']);
    expect(await messages(['tree'])).toEqual(['tftpRoot', 'storre']);
    expect((await messages(['executors'])).sort()).toEqual(['kubernetes.image', 'kubernetes.storage', 'storre'].sort());
    expect((await messages(['build', 'tree', 'executors'])).length).toBe(5);
  });
});
