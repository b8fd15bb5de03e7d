import { describe, expect, it } from 'vitest';

import { normalizeRecipe, type ChainLevel } from '../../src/recipe/normalize.js';
import { recipeFileSchema, type RecipeFile } from '../../src/recipe/schema.js';
import { parseYamlText } from '../../src/source/yaml-document.js';
import { checkSchema } from '../../src/source/zod-problems.js';

/** One level of an `extends` chain from its YAML text, checked against the recipe schema. */
function level(file: string, text: string): ChainLevel {
  const loaded = parseYamlText(text, file);
  if (!loaded.ok) throw new Error(`fixture ${file} does not parse`);
  const checked = checkSchema(recipeFileSchema, loaded.document);
  if (!checked.ok) throw new Error(`fixture ${file}: ${JSON.stringify(checked.problems)}`);
  return { parsed: { file, document: loaded.document, value: checked.value, problems: [] }, value: checked.value };
}

/** A level taken as written, past the schema: the merged-result rules must hold on their own. */
function unchecked(file: string, text: string): ChainLevel {
  const loaded = parseYamlText(text, file);
  if (!loaded.ok) throw new Error(`fixture ${file} does not parse`);
  const value = loaded.document.data as RecipeFile;
  return { parsed: { file, document: loaded.document, value, problems: [] }, value };
}

const packageSets = new Map([
  ['core', ['systemd-sysv', 'openssh-server', 'vim']],
  ['hpc', ['numactl', 'hwloc', 'vim']],
]);

const root = level(
  'recipes/base.yaml',
  [
    'name: base',
    'base: { distro: debian, release: bookworm }',
    'packages: { sets: [core], include: [htop, curl] }',
    'services: { enable: [ssh, chrony, rdma], mask: [apt-daily.timer] }',
    'kernel: { package: linux-image-amd64 }',
    'output: { format: squashfs }',
    '',
  ].join('\n'),
);

const normalize = (chain: ChainLevel[], overlayMeta: (name: string) => string[] = () => []) =>
  normalizeRecipe(chain, packageSets, overlayMeta);

describe('normalizeRecipe: the install set', () => {
  it('adds sets and includes level by level from the root, drops excludes, adds the kernel, sorted', () => {
    const middle = level('recipes/hpc.yaml', 'name: hpc\nextends: base\npackages: { sets: [hpc], exclude: [vim, curl, not-installed] }\n');
    const leaf = level('recipes/compute.yaml', 'name: compute\nextends: hpc\npackages: { include: [vim, infiniband-diags] }\n');
    const { recipe, problems } = normalize([root, middle, leaf]);
    expect(problems).toEqual([]);
    expect(recipe!.packages).toStrictEqual({
      sets: ['core', 'hpc'],
      install: ['htop', 'hwloc', 'infiniband-diags', 'linux-image-amd64', 'numactl', 'openssh-server', 'systemd-sysv', 'vim'],
    });
  });

  it('a parent that only excludes cannot remove what a child includes; a level without packages changes nothing', () => {
    const parent = level(
      'recipes/base.yaml',
      'name: base\nbase: { distro: debian, release: bookworm }\nkernel: { package: linux-image-amd64 }\noutput: { format: initramfs }\npackages: { exclude: [htop] }\n',
    );
    const middle = level('recipes/mid.yaml', 'name: mid\nextends: base\n');
    const leaf = level('recipes/leaf.yaml', 'name: leaf\nextends: mid\npackages: { include: [htop] }\n');
    expect(normalize([parent, middle, leaf]).recipe!.packages).toStrictEqual({ sets: [], install: ['htop', 'linux-image-amd64'] });
    expect(normalize([parent]).recipe!.packages).toStrictEqual({ sets: [], install: ['linux-image-amd64'] });
  });

  it('a set the catalog does not know adds nothing (it is reported where sets are read)', () => {
    const leaf = level('recipes/leaf.yaml', 'name: leaf\nextends: base\npackages: { sets: [nowhere] }\n');
    expect(normalize([root, leaf]).recipe!.packages).toStrictEqual({
      sets: ['core', 'nowhere'],
      install: ['curl', 'htop', 'linux-image-amd64', 'openssh-server', 'systemd-sysv', 'vim'],
    });
  });
});

describe('normalizeRecipe: service states', () => {
  it('each unit ends in exactly one state, the nearest level deciding', () => {
    const middle = level('recipes/hpc.yaml', 'name: hpc\nextends: base\nservices: { disable: [ssh, slurmd], mask: [chrony] }\n');
    const leaf = level(
      'recipes/compute.yaml',
      'name: compute\nextends: hpc\nservices: { enable: [slurmd, apt-daily.timer], disable: [rdma] }\n',
    );
    expect(normalize([root, middle, leaf]).recipe!.services).toStrictEqual({
      enable: ['apt-daily.timer', 'slurmd'],
      disable: ['ssh', 'rdma'],
      mask: ['chrony'],
    });
  });

  it('a root alone keeps its states; no services at all is three empty lists', () => {
    expect(normalize([root]).recipe!.services).toStrictEqual({ enable: ['ssh', 'chrony', 'rdma'], disable: [], mask: ['apt-daily.timer'] });
    const bare = level(
      'recipes/bare.yaml',
      'name: bare\nbase: { distro: debian, release: trixie }\nkernel: { package: linux-image-amd64 }\noutput: { format: initramfs }\n',
    );
    expect(normalize([bare]).recipe!.services).toStrictEqual({ enable: [], disable: [], mask: [] });
  });
});

describe('normalizeRecipe: defaults and the merged result', () => {
  it('fills every default', () => {
    const bare = level(
      'recipes/bare.yaml',
      'name: bare\nbase: { distro: debian, release: trixie }\nkernel: { package: linux-image-amd64 }\noutput: { format: initramfs }\n',
    );
    const { recipe, problems } = normalize([bare]);
    expect(problems).toEqual([]);
    expect(recipe).toStrictEqual({
      name: 'bare',
      description: undefined,
      chain: ['recipes/bare.yaml'],
      base: { distro: 'debian', release: 'trixie', arch: 'amd64', variant: 'minbase', mirror: undefined },
      packages: { sets: [], install: ['linux-image-amd64'] },
      overlays: [],
      services: { enable: [], disable: [], mask: [] },
      users: [],
      groups: [],
      locale: undefined,
      timezone: undefined,
      kernel: { package: 'linux-image-amd64', cmdline: '', netbootDrivers: [] },
      output: { format: 'initramfs', compression: { algorithm: 'zstd', level: 3 }, acceptCapabilityLoss: false },
      hooks: [],
      hygiene: { allowPrivateKeys: [] },
      tests: { boot: { memory: 2048, cpus: 2, timeout: 300, builtinChecks: true }, checks: [] },
      sources: ['recipes/bare.yaml'],
    });
  });

  it('takes every value a recipe sets over the default, and lists the files it depends on once each', () => {
    const leaf = level(
      'recipes/compute.yaml',
      [
        'name: compute',
        'extends: base',
        'description: compute nodes',
        'base: { arch: arm64, variant: important, mirror: "http://mirror.example.org/debian" }',
        'packages: { sets: [hpc, core] }',
        'overlays: [common, compute]',
        'users: [{ name: slurm, uid: 64030 }]',
        'groups: [{ name: hpc }]',
        'locale: C.UTF-8',
        'timezone: Europe/Berlin',
        'kernel: { cmdline: "mitigations=off", netbootDrivers: [ib_ipoib] }',
        'output: { format: initramfs, compression: { algorithm: gzip }, acceptCapabilityLoss: true }',
        'hooks: [recipes/hooks/a.sh, recipes/./hooks/a.sh, recipes/hooks/b.sh]',
        'hygiene: { allowPrivateKeys: [/etc/munge/munge.key] }',
        'tests: { boot: { memory: 4096, cpus: 8, timeout: 900, builtinChecks: false }, checks: [{ name: ib, run: ibstat }] }',
        '',
      ].join('\n'),
    );
    const meta = (name: string) => (name === 'common' ? ['overlays/common.yaml'] : []);
    const { recipe, problems } = normalize([root, leaf], meta);
    expect(problems).toEqual([]);
    expect(recipe).toStrictEqual({
      name: 'compute',
      description: 'compute nodes',
      chain: ['recipes/compute.yaml', 'recipes/base.yaml'],
      base: { distro: 'debian', release: 'bookworm', arch: 'arm64', variant: 'important', mirror: 'http://mirror.example.org/debian' },
      packages: {
        sets: ['core', 'hpc'],
        install: ['curl', 'htop', 'hwloc', 'linux-image-amd64', 'numactl', 'openssh-server', 'systemd-sysv', 'vim'],
      },
      overlays: ['common', 'compute'],
      services: { enable: ['ssh', 'chrony', 'rdma'], disable: [], mask: ['apt-daily.timer'] },
      users: [{ name: 'slurm', uid: 64030 }],
      groups: [{ name: 'hpc' }],
      locale: 'C.UTF-8',
      timezone: 'Europe/Berlin',
      kernel: { package: 'linux-image-amd64', cmdline: 'mitigations=off', netbootDrivers: ['ib_ipoib'] },
      output: { format: 'initramfs', compression: { algorithm: 'gzip', level: 6 }, acceptCapabilityLoss: true },
      hooks: ['recipes/hooks/a.sh', 'recipes/./hooks/a.sh', 'recipes/hooks/b.sh'],
      hygiene: { allowPrivateKeys: ['/etc/munge/munge.key'] },
      tests: { boot: { memory: 4096, cpus: 8, timeout: 900, builtinChecks: false }, checks: [{ name: 'ib', run: 'ibstat' }] },
      sources: [
        'recipes/compute.yaml',
        'recipes/base.yaml',
        'recipes/package-sets/core.yaml',
        'recipes/package-sets/hpc.yaml',
        'overlays/common',
        'overlays/common.yaml',
        'overlays/compute',
        'recipes/hooks/a.sh',
        'recipes/hooks/b.sh',
      ],
    });
  });

  it('gives xz and lz4 no level unless asked, and keeps a level inside the bounds', () => {
    const withOutput = (output: string) =>
      normalize([root, level('recipes/leaf.yaml', `name: leaf\nextends: base\noutput: ${output}\n`)]).recipe?.output.compression;
    expect(withOutput('{ compression: { algorithm: xz } }')).toStrictEqual({ algorithm: 'xz', level: undefined });
    expect(withOutput('{ compression: { algorithm: lz4 } }')).toStrictEqual({ algorithm: 'lz4', level: undefined });
    expect(withOutput('{ compression: { level: 1 } }')).toStrictEqual({ algorithm: 'zstd', level: 1 });
    expect(withOutput('{ compression: { level: 22 } }')).toStrictEqual({ algorithm: 'zstd', level: 22 });
    expect(withOutput('{ compression: { algorithm: gzip, level: 1 } }')).toStrictEqual({ algorithm: 'gzip', level: 1 });
    expect(withOutput('{ compression: { algorithm: gzip, level: 9 } }')).toStrictEqual({ algorithm: 'gzip', level: 9 });
  });
});

describe('normalizeRecipe: rules on the merged result', () => {
  const problemsOf = (text: string, chain: ChainLevel[] = [root]) => {
    const result = normalize([...chain, level('recipes/leaf.yaml', `name: leaf\n${text}`)]);
    expect(result.recipe).toBeUndefined();
    return result.problems;
  };

  it('refuses compression levels one past either bound of the algorithm, at the level', () => {
    const problemsAt = (compression: string) => {
      const result = normalize([
        root,
        unchecked('recipes/leaf.yaml', `name: leaf\nextends: base\noutput: { compression: ${compression} }\n`),
      ]);
      expect(result.recipe).toBeUndefined();
      return result.problems;
    };
    expect(problemsAt('{ level: 0 }')).toMatchInlineSnapshot(`
      [
        {
          "column": 33,
          "file": "recipes/leaf.yaml",
          "hint": undefined,
          "line": 3,
          "message": "zstd level must be between 1 and 22, got 0",
          "path": "output.compression.level",
        },
      ]
    `);
    expect(problemsAt('{ level: 23 }')).toMatchInlineSnapshot(`
      [
        {
          "column": 33,
          "file": "recipes/leaf.yaml",
          "hint": undefined,
          "line": 3,
          "message": "zstd level must be between 1 and 22, got 23",
          "path": "output.compression.level",
        },
      ]
    `);
    expect(problemsAt('{ algorithm: gzip, level: 0 }')).toMatchInlineSnapshot(`
      [
        {
          "column": 50,
          "file": "recipes/leaf.yaml",
          "hint": undefined,
          "line": 3,
          "message": "gzip level must be between 1 and 9, got 0",
          "path": "output.compression.level",
        },
      ]
    `);
    expect(problemsAt('{ algorithm: gzip, level: 10 }')).toMatchInlineSnapshot(`
      [
        {
          "column": 50,
          "file": "recipes/leaf.yaml",
          "hint": undefined,
          "line": 3,
          "message": "gzip level must be between 1 and 9, got 10",
          "path": "output.compression.level",
        },
      ]
    `);
  });

  it('refuses a level for an algorithm that takes none', () => {
    expect(problemsOf('extends: base\noutput: { compression: { algorithm: xz, level: 5 } }\n')).toMatchInlineSnapshot(`
      [
        {
          "column": 48,
          "file": "recipes/leaf.yaml",
          "hint": "remove \`level\`",
          "line": 3,
          "message": "compression \`xz\` takes no level",
          "path": "output.compression.level",
        },
      ]
    `);
    expect(problemsOf('extends: base\noutput: { compression: { algorithm: lz4, level: 1 } }\n')).toMatchInlineSnapshot(`
      [
        {
          "column": 49,
          "file": "recipes/leaf.yaml",
          "hint": "remove \`level\`",
          "line": 3,
          "message": "compression \`lz4\` takes no level",
          "path": "output.compression.level",
        },
      ]
    `);
  });

  it('refuses acceptCapabilityLoss on squashfs, also when the format comes from the parent', () => {
    expect(problemsOf('extends: base\noutput: { acceptCapabilityLoss: true }\n')).toMatchInlineSnapshot(`
      [
        {
          "column": 33,
          "file": "recipes/leaf.yaml",
          "hint": undefined,
          "line": 3,
          "message": "only meaningful with \`output.format: initramfs\` (squashfs keeps file capabilities)",
          "path": "output.acceptCapabilityLoss",
        },
      ]
    `);
  });

  it('accepts acceptCapabilityLoss: false on squashfs', () => {
    const leaf = level('recipes/leaf.yaml', 'name: leaf\nextends: base\noutput: { acceptCapabilityLoss: false }\n');
    expect(normalize([root, leaf]).recipe!.output).toStrictEqual({
      format: 'squashfs',
      compression: { algorithm: 'zstd', level: 3 },
      acceptCapabilityLoss: false,
    });
  });

  it('names every missing required field, with a hint only when a parent could set it', () => {
    expect(problemsOf('description: nothing else\n', [])).toMatchInlineSnapshot(`
      [
        {
          "column": 1,
          "file": "recipes/leaf.yaml",
          "hint": undefined,
          "line": 1,
          "message": "missing required field \`base.distro\`",
          "path": "base.distro",
        },
        {
          "column": 1,
          "file": "recipes/leaf.yaml",
          "hint": undefined,
          "line": 1,
          "message": "missing required field \`base.release\`",
          "path": "base.release",
        },
        {
          "column": 1,
          "file": "recipes/leaf.yaml",
          "hint": undefined,
          "line": 1,
          "message": "missing required field \`kernel.package\`",
          "path": "kernel.package",
        },
        {
          "column": 1,
          "file": "recipes/leaf.yaml",
          "hint": undefined,
          "line": 1,
          "message": "missing required field \`output.format\`",
          "path": "output.format",
        },
      ]
    `);
    expect(problemsOf('extends: bare\n', [level('recipes/bare.yaml', 'name: bare\n')])).toMatchInlineSnapshot(`
      [
        {
          "column": 1,
          "file": "recipes/leaf.yaml",
          "hint": "set it here or in a parent recipe",
          "line": 1,
          "message": "missing required field \`base.distro\`",
          "path": "base.distro",
        },
        {
          "column": 1,
          "file": "recipes/leaf.yaml",
          "hint": "set it here or in a parent recipe",
          "line": 1,
          "message": "missing required field \`base.release\`",
          "path": "base.release",
        },
        {
          "column": 1,
          "file": "recipes/leaf.yaml",
          "hint": "set it here or in a parent recipe",
          "line": 1,
          "message": "missing required field \`kernel.package\`",
          "path": "kernel.package",
        },
        {
          "column": 1,
          "file": "recipes/leaf.yaml",
          "hint": "set it here or in a parent recipe",
          "line": 1,
          "message": "missing required field \`output.format\`",
          "path": "output.format",
        },
      ]
    `);
  });

  it('refuses a Debian release it does not support, suggesting the nearest', () => {
    expect(problemsOf('extends: base\nbase: { release: bookwrom }\n')).toMatchInlineSnapshot(`
      [
        {
          "column": 18,
          "file": "recipes/leaf.yaml",
          "hint": "did you mean \`bookworm\`?",
          "line": 3,
          "message": "Debian release \`bookwrom\` is not supported",
          "path": "base.release",
        },
      ]
    `);
    expect(problemsOf('extends: base\nbase: { release: sid }\n')).toMatchInlineSnapshot(`
      [
        {
          "column": 18,
          "file": "recipes/leaf.yaml",
          "hint": "supported: bookworm, trixie",
          "line": 3,
          "message": "Debian release \`sid\` is not supported",
          "path": "base.release",
        },
      ]
    `);
  });

  it('gives no recipe and no problem for a distro that is only planned (reported elsewhere)', () => {
    expect(
      normalize([root, level('recipes/leaf.yaml', 'name: leaf\nextends: base\nbase: { distro: rocky, release: "9" }\n')]),
    ).toStrictEqual({ problems: [] });
  });

  it('refuses a kernel command line boot loaders would cut off', () => {
    const problems = problemsOf(`extends: base\nkernel: { cmdline: "${'x=1 '.repeat(500).trim()}" }\n`);
    expect(problems.map((p) => [p.file, p.line, p.path, p.hint])).toStrictEqual([
      [
        'recipes/leaf.yaml',
        3,
        'kernel.cmdline',
        'move settings into the image (sysctl.d, modprobe.d, an overlay) instead of kernel parameters',
      ],
    ]);
  });
});
