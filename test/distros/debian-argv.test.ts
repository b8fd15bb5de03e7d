import { describe, expect, it } from 'vitest';

import { aptCleanArgv, aptInstallArgv, aptUpdateArgv, mmdebstrapArgv } from '../../src/distros/debian/argv.js';

describe('Debian argv builders', () => {
  it('mmdebstrap', () => {
    expect(
      mmdebstrapArgv({ release: 'bookworm', arch: 'amd64', variant: 'minbase', target: '/c/b.tar', sourcesList: '/w/sources.list' }),
    ).toMatchInlineSnapshot(`
      [
        "mmdebstrap",
        "--mode=root",
        "--variant=minbase",
        "--architectures=amd64",
        "--format=tar",
        "--aptopt=APT::Install-Recommends "false"",
        "bookworm",
        "/c/b.tar",
        "/w/sources.list",
      ]
    `);
  });

  it('apt-get install keeps daemons and initrd generation out, and ends options before package names', () => {
    const argv = aptInstallArgv('/r', ['openssh-server', 'chrony'], 1700000000);
    expect(argv.slice(0, 10)).toEqual([
      'chroot',
      '/r',
      'env',
      '-i',
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOME=/root',
      'LC_ALL=C.UTF-8',
      'DEBIAN_FRONTEND=noninteractive',
      'INITRD=No',
      'SOURCE_DATE_EPOCH=1700000000',
    ]);
    expect(argv.slice(-3)).toEqual(['--', 'openssh-server', 'chrony']);
    expect(argv).toContain('--no-install-recommends');
    expect(aptUpdateArgv('/r', 5)).toEqual([
      'chroot',
      '/r',
      'env',
      '-i',
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOME=/root',
      'LC_ALL=C.UTF-8',
      'SOURCE_DATE_EPOCH=5',
      'apt-get',
      'update',
      '-o',
      'Dpkg::Use-Pty=0',
    ]);
  });

  it('apt-get clean runs in the image', () => {
    expect(aptCleanArgv('/r')).toEqual([
      'chroot',
      '/r',
      'env',
      '-i',
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOME=/root',
      'LC_ALL=C.UTF-8',
      'apt-get',
      'clean',
    ]);
  });
});
