import path from 'node:path';

import { describe, expect, it } from 'vitest';

import type { AptSource } from '../../src/distros/debian/apt-sources.js';
import { debian } from '../../src/distros/debian/debian.js';
import { makeBuildPlan } from '../../src/image/plan.js';
import { producingSettings } from '../../src/site/build-settings.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { recipeRepo } from '../../src/recipe/repo.js';
import { fixtureRepo } from '../helpers/cli.js';

const sources = [{ uri: 'http://m/debian', suite: 'bookworm', components: ['main'] }];

describe('build plan cache keys', async () => {
  const recipe = await loadRecipe(recipeRepo(fixtureRepo), path.join(fixtureRepo, 'recipes/child.yaml'));
  const plan = (overrides: Partial<typeof recipe> = {}, digests: Record<string, string> = { 'overlays/common/etc/motd': '-:a' }) =>
    makeBuildPlan(
      { ...recipe, ...overrides },
      { packageSources: sources, sourceDateEpoch: 1700000000, sourceDigests: digests, buildSettings: { mirror: 'host' } },
    );

  it('an overlay-only change keeps the bootstrap and package layers', () => {
    const before = plan();
    const after = plan({}, { 'overlays/common/etc/motd': '-:b' });
    expect(after.keys.bootstrap).toBe(before.keys.bootstrap);
    expect(after.keys.packages).toBe(before.keys.packages);
    expect(after.keys.inputs).not.toBe(before.keys.inputs);
  });

  it('one more package keeps the bootstrap layer only', () => {
    const before = plan();
    const after = plan({ packages: { ...recipe.packages, install: [...recipe.packages.install, 'htop'].sort() } });
    expect(after.keys.bootstrap).toBe(before.keys.bootstrap);
    expect(after.keys.packages).not.toBe(before.keys.packages);
  });

  it('another release or mirror starts from a new bootstrap', () => {
    expect(plan({ base: { ...recipe.base, release: 'trixie' } }).keys.bootstrap).not.toBe(plan().keys.bootstrap);
  });

  it("the site's build settings are in the inputs key", () => {
    const withMirror = makeBuildPlan(recipe, {
      packageSources: sources,
      sourceDateEpoch: 1700000000,
      sourceDigests: { 'overlays/common/etc/motd': '-:a' },
      buildSettings: producingSettings({ mirror: 'http://m/debian' }),
    });
    expect(withMirror.keys.bootstrap).toBe(plan().keys.bootstrap);
    expect(withMirror.keys.inputs).not.toBe(plan().keys.inputs);
    expect(producingSettings({})).toEqual({ mirror: 'host' });
  });

  it('the same inputs give the same keys, whatever the key order', () => {
    expect(plan().keys).toEqual(plan().keys);
    const { files } = debian.bootstrap({
      base: recipe.base,
      sources: plan().packageSources as AptSource[],
      target: '/c/b.tar',
      work: '/w',
      sourceDateEpoch: 1700000000,
    });
    expect(files).toEqual([{ path: '/w/sources.list', text: 'deb http://m/debian bookworm main\n' }]);
  });
});
