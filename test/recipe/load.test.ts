import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { ValidationError } from '../../src/errors/problems.js';
import { loadRecipe, loadRecipes } from '../../src/recipe/load.js';
import { recipeRepo } from '../../src/recipe/repo.js';
import { fixtureRepo, projectRoot } from '../helpers/cli.js';

const fixtures = recipeRepo(fixtureRepo);

describe('loadRecipe', () => {
  it('resolves extends: packages level by level, lists concatenated, child wins on scalars', async () => {
    const recipe = await loadRecipe(fixtures, path.join(fixtureRepo, 'recipes/child.yaml'));
    expect(recipe.name).toBe('child');
    expect(recipe.chain).toEqual(['recipes/child.yaml', 'recipes/base.yaml']);
    // base: set core (systemd-sysv, openssh-server) + vim; child: + chrony, - vim; + kernel.
    expect(recipe.packages.install).toEqual(['chrony', 'linux-image-cloud-amd64', 'openssh-server', 'systemd-sysv']);
    expect(recipe.output.format).toBe('squashfs');
    expect(recipe.output.compression).toEqual({ algorithm: 'zstd', level: 3 });
    expect(recipe.overlays).toEqual(['common']);
    expect(recipe.hooks).toEqual(['recipes/hooks/ok.sh']);
    expect(recipe.base).toEqual({ distro: 'debian', release: 'bookworm', arch: 'amd64', variant: 'minbase', mirror: undefined });
    expect(recipe.tests.boot).toEqual({ memory: 2048, cpus: 2, timeout: 300, builtinChecks: true });
  });

  it('lists every repository file the recipe depends on', async () => {
    const recipe = await loadRecipe(fixtures, path.join(fixtureRepo, 'recipes/child.yaml'));
    expect(recipe.sources).toEqual([
      'recipes/child.yaml',
      'recipes/base.yaml',
      'recipes/package-sets/core.yaml',
      'overlays/common',
      'recipes/hooks/ok.sh',
    ]);
  });

  it('throws one ValidationError carrying every problem', async () => {
    const error = await loadRecipe(fixtures, path.join(fixtureRepo, 'recipes/bad/33-many-problems.yaml')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).problems.map((p) => p.path)).toEqual([
      'name',
      'base.arch',
      'packages.include[1]',
      'kernel.cmdline',
      'tests.boot.memory',
      'tests.boot.cpus',
      'unexpected',
    ]);
    expect((error as ValidationError).exitCode).toBe(2);
  });

  it('lets a child disable a service its parent enabled', async () => {
    const { recipes, problems } = await loadRecipes(recipeRepo(projectRoot));
    expect(problems).toEqual([]);
    const compute = recipes.find((r) => r.name === 'compute')!;
    expect(compute.services.enable).toEqual(['ssh', 'systemd-networkd', 'chrony']);
    expect(compute.chain).toEqual(['recipes/compute.yaml', 'recipes/base.yaml']);
    expect(compute.packages.install).toContain('chrony');
    expect(compute.packages.install).toContain('dracut-live');
    expect(compute.tests.boot.memory).toBe(3072);
    expect(compute.tests.checks.map((c) => c.name)).toEqual([
      'sshd is active',
      'root is overlay on squashfs',
      'chrony is active',
      'memlock is unlimited',
      'numactl runs',
    ]);
  });
});
