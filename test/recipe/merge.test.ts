import { describe, expect, it } from 'vitest';

import { concatUnique, mergeRecipeFiles } from '../../src/recipe/merge.js';
import type { RecipeFile } from '../../src/recipe/schema.js';

const check = (name: string, run: string) => ({ name, run });

const parent: RecipeFile = {
  name: 'base',
  description: 'every node',
  extends: 'root',
  base: { distro: 'debian', release: 'bookworm', arch: 'amd64' },
  packages: { sets: ['core'], include: ['vim'] },
  overlays: ['common', 'ssh'],
  services: { enable: ['ssh'] },
  users: [
    { name: 'admin', uid: 1000 },
    { name: 'slurm', uid: 64030 },
  ],
  groups: [{ name: 'hpc', gid: 2000 }],
  locale: 'C.UTF-8',
  timezone: 'UTC',
  kernel: { package: 'linux-image-amd64', cmdline: 'quiet' },
  output: { format: 'initramfs', compression: { algorithm: 'zstd', level: 19 }, acceptCapabilityLoss: true },
  hooks: ['recipes/hooks/a.sh', 'recipes/hooks/b.sh'],
  hygiene: { allowPrivateKeys: ['/etc/ssh/ssh_host_ed25519_key'] },
  tests: { boot: { memory: 4096, cpus: 4 }, checks: [check('sshd', 'systemctl is-active ssh'), check('time', 'date')] },
};

const child: RecipeFile = {
  name: 'compute',
  extends: 'base',
  base: { release: 'trixie', variant: 'important' },
  packages: { include: ['chrony'], exclude: ['vim'] },
  overlays: ['ssh', 'compute'],
  services: { disable: ['ssh'] },
  users: [{ name: 'slurm', uid: 64031 }, { name: 'operator' }],
  groups: [{ name: 'hpc', gid: 3000 }, { name: 'ib' }],
  timezone: 'Europe/Berlin',
  kernel: { cmdline: 'mitigations=off' },
  output: { format: 'squashfs', compression: { level: 5 } },
  hooks: ['recipes/hooks/b.sh', 'recipes/hooks/c.sh'],
  hygiene: { allowPrivateKeys: ['/etc/munge/munge.key', '/etc/ssh/ssh_host_ed25519_key'] },
  tests: { boot: { cpus: 8, timeout: 600 }, checks: [check('time', 'chronyc tracking'), check('ib', 'ibstat')] },
};

describe('mergeRecipeFiles', () => {
  it('merges a child into its parent: mappings key by key, lists without duplicates, named entries replaced in place', () => {
    expect(mergeRecipeFiles(parent, child)).toStrictEqual({
      name: 'compute',
      description: 'every node',
      extends: 'base',
      base: { distro: 'debian', release: 'trixie', arch: 'amd64', variant: 'important' },
      packages: undefined,
      overlays: ['common', 'ssh', 'compute'],
      services: undefined,
      users: [{ name: 'admin', uid: 1000 }, { name: 'slurm', uid: 64031 }, { name: 'operator' }],
      groups: [{ name: 'hpc', gid: 3000 }, { name: 'ib' }],
      locale: 'C.UTF-8',
      timezone: 'Europe/Berlin',
      kernel: { package: 'linux-image-amd64', cmdline: 'mitigations=off' },
      output: { format: 'squashfs', compression: { algorithm: 'zstd', level: 5 }, acceptCapabilityLoss: true },
      hooks: ['recipes/hooks/a.sh', 'recipes/hooks/b.sh', 'recipes/hooks/c.sh'],
      hygiene: { allowPrivateKeys: ['/etc/ssh/ssh_host_ed25519_key', '/etc/munge/munge.key'] },
      tests: {
        boot: { memory: 4096, cpus: 8, timeout: 600 },
        checks: [check('sshd', 'systemctl is-active ssh'), check('time', 'chronyc tracking'), check('ib', 'ibstat')],
      },
    });
  });

  it('keeps what only the parent sets, and takes the child’s extends even when it has none', () => {
    const minimal: RecipeFile = { name: 'leaf' };
    expect(mergeRecipeFiles(parent, minimal)).toStrictEqual({
      ...parent,
      name: 'leaf',
      extends: undefined,
      packages: undefined,
      services: undefined,
    });
  });

  it('takes what only the child sets', () => {
    const empty: RecipeFile = { name: 'root' };
    expect(mergeRecipeFiles(empty, child)).toStrictEqual({
      ...child,
      packages: undefined,
      services: undefined,
      users: child.users,
      groups: child.groups,
    });
  });

  it('leaves unset what neither sets, with empty lists where lists are merged', () => {
    expect(mergeRecipeFiles({ name: 'a' }, { name: 'b' })).toStrictEqual({
      name: 'b',
      extends: undefined,
      base: undefined,
      packages: undefined,
      overlays: [],
      services: undefined,
      users: [],
      groups: [],
      kernel: undefined,
      output: { compression: undefined },
      hooks: [],
      hygiene: { allowPrivateKeys: [] },
      tests: { boot: undefined, checks: [] },
    });
  });

  it('does not change its inputs', () => {
    const before = structuredClone(parent);
    const childBefore = structuredClone(child);
    mergeRecipeFiles(parent, child);
    expect(parent).toEqual(before);
    expect(child).toEqual(childBefore);
  });
});

describe('concatUnique', () => {
  it('concatenates in order, first occurrence kept, missing lists skipped', () => {
    expect(concatUnique(['a', 'b'], undefined, ['c', 'a'], ['b', 'd'])).toEqual(['a', 'b', 'c', 'd']);
    expect(concatUnique()).toEqual([]);
    expect(concatUnique(undefined)).toEqual([]);
  });
});

describe('kernel.netbootDrivers', () => {
  const withDrivers = (drivers: string[] | undefined): RecipeFile => ({ ...child, kernel: { cmdline: 'x', netbootDrivers: drivers } });
  it('adds up along extends, parent first, without duplicates', () => {
    const merged = mergeRecipeFiles(
      { ...parent, kernel: { package: 'k', netbootDrivers: ['ib_ipoib', 'mlx5_ib'] } },
      withDrivers(['mlx5_ib', 'bnxt_re']),
    );
    expect(merged.kernel).toStrictEqual({ package: 'k', cmdline: 'x', netbootDrivers: ['ib_ipoib', 'mlx5_ib', 'bnxt_re'] });
  });
  it("one side's list is kept as it is", () => {
    expect(
      mergeRecipeFiles({ ...parent, kernel: { netbootDrivers: ['ib_ipoib'] } }, withDrivers(undefined)).kernel?.netbootDrivers,
    ).toEqual(['ib_ipoib']);
    expect(mergeRecipeFiles(parent, withDrivers(['igc'])).kernel?.netbootDrivers).toEqual(['igc']);
  });
});
