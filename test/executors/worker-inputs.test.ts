import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { packInputs } from '../../src/executors/kubernetes/inputs.js';
import { loadPodInputs } from '../../src/executors/kubernetes/worker.js';
import type { PxeEvent } from '../../src/events/events.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { recipeRepo } from '../../src/recipe/repo.js';
import { loadSiteTree, siteConfigName } from '../../src/site/site-config.js';
import { projectRoot } from '../helpers/cli.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-worker-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the pod-side build inputs', () => {
  it("load with this repository's own pxeforge.yaml, whose node groups name images not in the inputs", async () => {
    const repo = recipeRepo(projectRoot);
    const recipe = await loadRecipe(repo, path.join(projectRoot, 'recipes/tiny.yaml'));
    // The site config does name other images: as a tree, with only this recipe, it is refused.
    const alone = await loadSiteTree(repo, [recipe.name]);
    const line = (await readFile(path.join(projectRoot, siteConfigName), 'utf8')).split('\n').indexOf('    image: compute') + 1;
    expect(alone.problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.path}: ${p.message}`)).toContain(
      `pxeforge.yaml:${line}:12: nodeGroups.compute.image: no recipe named \`compute\``,
    );

    const inputs = await packInputs(projectRoot, [...recipe.sources, siteConfigName], path.join(dir, 'inputs'));
    const events: PxeEvent[] = [];
    const loaded = await loadPodInputs(
      { inputs: inputs.file, sha256: inputs.sha256, recipe: 'recipes/tiny.yaml', store: '/srv/store', cacheDir: '/srv/cache' },
      path.join(dir, 'repo'),
      (event) => events.push(event),
    );
    expect(loaded.recipe.name).toBe('tiny');
    expect(loaded.recipe.packages).toEqual(recipe.packages);
    expect(loaded.site).toEqual({
      file: path.join(dir, 'repo', siteConfigName),
      store: '/srv/store',
      cache: '/srv/cache',
      work: '/srv/cache/work',
      mirror: 'host',
      localSetting: '`kubernetes.local` in pxeforge.yaml',
    });
    expect(events.filter((event) => event.type === 'warning')).toEqual([]);

    // The pod command's --work-dir places the work trees (node-local) apart from the cache.
    const placed = await loadPodInputs(
      {
        inputs: inputs.file,
        sha256: inputs.sha256,
        recipe: 'recipes/tiny.yaml',
        store: '/srv/store',
        cacheDir: '/var/lib/pxeforge/cache',
        workDir: '/var/lib/pxeforge/work',
      },
      path.join(dir, 'repo2'),
      () => undefined,
    );
    expect(placed.site).toMatchObject({ store: '/srv/store', cache: '/var/lib/pxeforge/cache', work: '/var/lib/pxeforge/work' });
  });
});
