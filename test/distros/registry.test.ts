import { describe, expect, it } from 'vitest';

import type { DistroBackend } from '../../src/distros/backend.js';
import { aptSources } from '../../src/distros/debian/apt-sources.js';
import { debian } from '../../src/distros/debian/debian.js';
import { distroNames, distros, getDistro } from '../../src/distros/registry.js';
import { hostTools } from '../../src/doctor/host-tools.js';
import { UserError } from '../../src/errors/user-error.js';
import { ToolError } from '../../src/exec/tool-error.js';
import { digestJson } from '../../src/integrity/digest.js';
import { buildStages, type BuildContext } from '../../src/image/build.js';
import { makeBuildPlan } from '../../src/image/plan.js';
import { packageSpec } from '../../src/recipe/patterns.js';
import { supportedDistros } from '../../src/recipe/schema.js';

const chroot = (root: string) => [
  'chroot',
  root,
  'env',
  '-i',
  'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  'HOME=/root',
  'LC_ALL=C.UTF-8',
];

describe('distro registry', () => {
  it('resolves every registered name to the backend of that name', () => {
    expect(distroNames).toEqual(['debian']);
    for (const name of distroNames) {
      const backend: DistroBackend = getDistro(name);
      expect(backend).toBe(distros[name]);
      expect(backend.name).toBe(name);
      expect(backend.releases.length).toBeGreaterThan(0);
      expect(backend.variants.names).toContain(backend.variants.default);
    }
    expect(getDistro('debian')).toBe(debian);
  });

  it('the recipe schema takes its distros from the registry', () => {
    expect(supportedDistros).toEqual(distroNames);
  });

  it('an unknown name is a clear error', () => {
    expect(() => getDistro('slackware')).toThrow(UserError);
    expect(() => getDistro('slackware')).toThrow('unknown distro `slackware`');
    try {
      getDistro('toString');
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ code: 'UNKNOWN_DISTRO', hint: 'pxeforge builds: debian' });
    }
  });

  it('doctor lists the tools of every backend first, as before', () => {
    expect(hostTools[0]).toEqual({
      name: 'mmdebstrap',
      check: { program: 'mmdebstrap' },
      package: 'mmdebstrap',
      neededFor: 'build',
      purpose: 'bootstrap the Debian image root',
    });
    expect(hostTools.filter((tool) => tool.name === 'mmdebstrap')).toHaveLength(1);
  });

  it('the bootstrap stage is titled by the backend of the recipe', () => {
    const { title } = buildStages.find((stage) => stage.id === 'bootstrap')!;
    const context = { plan: { recipe: { base: { distro: 'debian' } } } } as unknown as BuildContext;
    expect(typeof title === 'string' ? title : title(context)).toBe('Bootstrap the Debian root');
  });
});

describe('the Debian backend gives what the build did before', () => {
  const base = { release: 'bookworm', arch: 'amd64', variant: 'minbase', mirror: 'http://m.example/debian' };

  it('package sources: the recipe mirror, its -updates and -security suites', async () => {
    const sources = await debian.packageSources(base, 'host');
    expect(sources).toEqual(aptSources('http://m.example/debian', 'bookworm', []));
    expect(await debian.packageSources({ ...base, mirror: undefined }, 'http://site.example/debian/')).toEqual(
      aptSources('http://site.example/debian/', 'bookworm', []),
    );
  });

  it('the bootstrap cache key is the one of distro, release, arch, variant and the apt sources', async () => {
    const sources = await debian.packageSources(base, 'host');
    const recipe = { name: 'x', base: { distro: 'debian', ...base }, packages: { install: ['a'] } } as unknown as Parameters<
      typeof makeBuildPlan
    >[0];
    const plan = makeBuildPlan(recipe, {
      packageSources: sources,
      sourceDateEpoch: 1,
      sourceDigests: {},
      buildSettings: { mirror: 'host' },
    });
    expect(plan.keys.bootstrap).toBe(
      digestJson({ step: 'bootstrap', buildFormat: 1, distro: 'debian', release: 'bookworm', arch: 'amd64', variant: 'minbase', sources }),
    );
    // The key the build computed before the distro seam (same recipe, same sources).
    expect(plan.keys.bootstrap).toBe('be1c4f2434f60b9d88272676987e91d76943f3baca7be64704a6cd265a4be25c');
  });

  it('hygiene: apt lists, caches and logs go; leftover apt lists are a violation', () => {
    expect(debian.hygiene.remove.map(({ dir }) => dir)).toEqual([
      'var/lib/apt/lists',
      'var/cache/apt',
      'var/cache/apt/archives',
      'var/log',
    ]);
    expect(
      ['lock', 'partial', 'auxfiles', 'deb_dists_bookworm_InRelease'].filter((name) => debian.hygiene.remove[0]!.match.test(name)),
    ).toEqual(['deb_dists_bookworm_InRelease']);
    expect(
      ['dpkg.log', 'alternatives.log', 'bootstrap.log', 'apt', 'journal', 'syslog'].filter((name) =>
        debian.hygiene.remove[3]!.match.test(name),
      ),
    ).toEqual(['dpkg.log', 'alternatives.log', 'bootstrap.log', 'apt']);
    expect(debian.hygiene.lists.label).toBe('apt lists');
  });

  it('the package-name pattern is the Debian Policy one', () => {
    expect(debian.packageName.pattern.source).toBe('^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?(=[A-Za-z0-9.+~:-]+)?$');
    expect(packageSpec.safeParse('linux-image-amd64:arm64=6.1.0-1').success).toBe(true);
    expect(packageSpec.safeParse('Vim').error?.issues[0]?.message).toBe(
      'is not a Debian package name (`name`, `name:arch` or `name=version`)',
    );
  });

  it('bootstrap: sources.list in the work directory, then mmdebstrap into a tar', () => {
    const { files, step } = debian.bootstrap({
      base: { ...base, mirror: undefined },
      sources: aptSources('http://m/debian', 'bookworm', []),
      target: '/c/b.tar',
      work: '/w',
      sourceDateEpoch: 1700000000,
    });
    expect(files).toEqual([
      {
        path: '/w/sources.list',
        text: 'deb http://m/debian bookworm main\ndeb http://m/debian bookworm-updates main\ndeb http://m/debian-security bookworm-security main\n',
      },
    ]);
    expect(step.argv).toEqual([
      'mmdebstrap',
      '--mode=root',
      '--variant=minbase',
      '--architectures=amd64',
      '--format=tar',
      '--aptopt=APT::Install-Recommends "false"',
      'bookworm',
      '/c/b.tar',
      '/w/sources.list',
    ]);
    expect(step.env).toEqual({ SOURCE_DATE_EPOCH: '1700000000', TMPDIR: '/w' });
  });

  it('install: apt-get update, install, clean in the chroot; apt errors become one clear message', () => {
    const steps = debian.installPackages('/r', ['openssh-server', 'chrony'], 5);
    expect(steps.map((step) => step.argv)).toEqual([
      [...chroot('/r'), 'SOURCE_DATE_EPOCH=5', 'apt-get', 'update', '-o', 'Dpkg::Use-Pty=0'],
      [
        ...chroot('/r'),
        'DEBIAN_FRONTEND=noninteractive',
        'INITRD=No',
        'SOURCE_DATE_EPOCH=5',
        'apt-get',
        'install',
        '--yes',
        '--no-install-recommends',
        '--allow-downgrades',
        '-o',
        'Dpkg::Options::=--force-confold',
        '-o',
        'Dpkg::Use-Pty=0',
        '--',
        'openssh-server',
        'chrony',
      ],
      [...chroot('/r'), 'apt-get', 'clean'],
    ]);
    const explain = steps[1]!.explain!;
    const failed = new ToolError(['apt-get'], 100, undefined, ['Reading package lists...', 'E: Unable to locate package nope']);
    expect(() => explain(failed)).toThrow(
      expect.objectContaining({
        code: 'PACKAGE_INSTALL_FAILED',
        message: 'apt-get could not install the packages: E: Unable to locate package nope',
      }),
    );
    const other = new ToolError(['apt-get'], 100, undefined, ['no E line']);
    expect(() => explain(other)).toThrow(other);
  });

  it('--locked pins name=version, with :arch only for a foreign architecture', () => {
    const packages = [
      { name: 'bash', version: '5.2-1', arch: 'amd64' },
      { name: 'tzdata', version: '2024a-1', arch: 'all' },
      { name: 'libc6', version: '2.36-9', arch: 'i386' },
    ];
    expect(debian.pinnedInstall(packages, 'amd64')).toEqual(['bash=5.2-1', 'tzdata=2024a-1', 'libc6:i386=2.36-9']);
  });
});
