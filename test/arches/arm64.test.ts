import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { arches } from '../../src/arches/registry.js';
import { qemuArgv } from '../../src/boot-test/qemu-argv.js';
import { UserError } from '../../src/errors/user-error.js';
import type { PxeEvent } from '../../src/events/events.js';
import { checkOtherArches } from '../../src/doctor/host-tools.js';
import { prepareForeignBuild } from '../../src/image/foreign-arch.js';
import { loadRecipes } from '../../src/recipe/load.js';
import { recipeRepo } from '../../src/recipe/repo.js';
import { projectRoot, runCli } from '../helpers/cli.js';
import { defaultSiteYaml, makeTreeSite, makeVersion, type TreeSite } from '../helpers/tree-site.js';

async function failure(promise: Promise<unknown>): Promise<UserError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(UserError);
  return error as UserError;
}

describe('building arm64 roots on an x86_64 host (binfmt and qemu-user-static)', () => {
  let dir: string;
  let events: PxeEvent[];
  const emit = (event: PxeEvent) => events.push(event);
  const host = () => ({ machine: 'x86_64', binfmtDir: dir, path: '/usr/bin:/bin' });
  // What binfmt-support registers for Debian's qemu-user-static.
  const handler = (state: string, flags: string) =>
    `${state}\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: ${flags}\noffset 0\nmagic 7f454c460201010000000000000000000200b700\n`;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-binfmt-'));
    events = [];
    await writeFile(path.join(dir, 'status'), 'enabled\n');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('needs nothing on a host of the same architecture', async () => {
    expect(await prepareForeignBuild(arches.arm64, emit, { machine: 'aarch64', binfmtDir: '/nonexistent' })).toBeUndefined();
    expect(await prepareForeignBuild(arches.amd64, emit, { machine: 'x86_64', binfmtDir: '/nonexistent' })).toBeUndefined();
    expect(events).toEqual([]);
  });

  it('uses the enabled qemu-aarch64 handler with the F flag (it runs inside the chroot too)', async () => {
    await writeFile(path.join(dir, 'qemu-aarch64'), handler('enabled', 'PF'));
    expect(await prepareForeignBuild(arches.arm64, emit, host())).toEqual({ handler: 'qemu-aarch64', mounted: false });
    expect(events).toEqual([]);
  });

  it('refuses a missing, disabled or non-fix-binary handler, with the commands that fix it', async () => {
    let error = await failure(prepareForeignBuild(arches.arm64, emit, host()));
    expect([error.code, error.message]).toEqual([
      'NO_BINFMT_HANDLER',
      'building an arm64 image on this x86_64 host needs the binfmt handler qemu-aarch64, which is not registered',
    ]);
    expect(error.hint).toBe('as root: apt-get install qemu-user-static binfmt-support arch-test && update-binfmts --enable qemu-aarch64');
    await writeFile(path.join(dir, 'qemu-aarch64'), handler('disabled', 'PF'));
    error = await failure(prepareForeignBuild(arches.arm64, emit, host()));
    expect([error.code, error.message, error.hint]).toEqual([
      'NO_BINFMT_HANDLER',
      'building an arm64 image on this x86_64 host needs the binfmt handler qemu-aarch64, which is registered but disabled',
      'as root: update-binfmts --enable qemu-aarch64',
    ]);
    await writeFile(path.join(dir, 'qemu-aarch64'), handler('enabled', 'P'));
    error = await failure(prepareForeignBuild(arches.arm64, emit, host()));
    expect(error.message).toContain('needs the binfmt handler qemu-aarch64 with the F flag');
    // And amd64 images on an arm64 host ask for qemu-x86_64.
    error = await failure(prepareForeignBuild(arches.amd64, emit, { ...host(), machine: 'aarch64' }));
    expect(error.message).toBe(
      'building an amd64 image on this aarch64 host needs the binfmt handler qemu-x86_64, which is not registered',
    );
  });

  it('mounts binfmt_misc when it is not mounted, and says so', async () => {
    // A real mount of the kernel's binfmt_misc, on a directory of the test's own.
    const point = path.join(dir, 'binfmt_misc');
    await mkdir(point);
    try {
      const outcome = await prepareForeignBuild(arches.arm64, emit, { machine: 'x86_64', binfmtDir: point }).catch(
        (error: unknown) => error,
      );
      expect(await readFile(path.join(point, 'status'), 'utf8')).toMatch(/^(enabled|disabled)\n$/);
      expect(events).toContainEqual({
        type: 'info',
        message: `mounted binfmt_misc at ${point} (it was not mounted; it stays mounted) to run arm64 programs through qemu-user-static`,
      });
      // Then the host's own handler decides (registered on a host prepared for arm64 builds, as scripts/test prepares it).
      if (outcome instanceof UserError) expect(outcome.code).toBe('NO_BINFMT_HANDLER');
      else expect(outcome).toEqual({ handler: 'qemu-aarch64', mounted: true });
    } finally {
      await execa('umount', [point], { reject: false });
    }
  });
});

describe('doctor', () => {
  it('reports what arm64 images need on this host: QEMU, AAVMF, the binfmt handler and arch-test, with the fix', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-binfmt-'));
    try {
      await writeFile(path.join(dir, 'status'), 'enabled\n');
      const [arm, ...others] = await checkOtherArches({ machine: 'x86_64', binfmtDir: dir, path: '/nonexistent' }, '/nonexistent');
      expect(others).toEqual([]);
      expect(arm!.arch).toBe('arm64');
      expect(arm!.tools.map(({ tool }) => [tool.name, tool.package])).toEqual([
        ['qemu-system-aarch64', 'qemu-system-arm'],
        ['AAVMF (UEFI for the virt machine)', 'qemu-efi-aarch64'],
      ]);
      expect(arm!.tools[0]!.found).toBeUndefined();
      expect(arm!.binfmt).toEqual({
        handler: 'qemu-aarch64',
        mounted: true,
        state: 'missing',
        flags: '',
        archTest: false,
        fix: 'apt-get install qemu-user-static binfmt-support arch-test && update-binfmts --enable qemu-aarch64',
      });
      // On an arm64 host its builds are native.
      const [native] = await checkOtherArches({ machine: 'aarch64', binfmtDir: dir });
      expect(native!.binfmt).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('prints them apart from the tools every site needs, which alone decide its exit code', async () => {
    const result = await runCli(['doctor']);
    expect(result.stdout).toContain('\nfor arm64 images (only sites that build or boot them need these):\n');
    expect(result.stdout).toMatch(/^(ok |MISSING) +qemu-system-aarch64 +boot test/m);
    const json = JSON.parse((await runCli(['--json', 'doctor'])).stdout) as { tools: { name: string }[]; arches: { arch: string }[] };
    expect(json.arches.map((item) => item.arch)).toEqual(['arm64']);
    expect(json.tools.map((tool) => tool.name)).not.toContain('qemu-system-aarch64');
  });
});

describe('the boot test of an arm64 image', () => {
  it('boots the kernel on the virt machine from UEFI (AAVMF flash), so that systemd reads the SSH key from SMBIOS', () => {
    const argv = qemuArgv({
      arch: arches.arm64,
      accel: 'tcg',
      memoryMiB: 2048,
      cpus: 2,
      sshPort: 2222,
      authorizedKey: 'ssh-ed25519 AAAA test',
      consoleLog: '/run/console.log',
      boot: {
        kind: 'direct',
        kernel: '/v/vmlinuz',
        initrd: '/v/initrd.img',
        cmdline: 'console=ttyAMA0,115200',
        uefi: { code: '/usr/share/AAVMF/AAVMF_CODE.fd', vars: '/run/vars.fd', format: 'raw' },
      },
    });
    expect(argv.slice(0, 11)).toEqual([
      'qemu-system-aarch64',
      '-machine',
      'virt',
      '-accel',
      'tcg',
      '-cpu',
      'max,pauth-impdef=on',
      '-smp',
      '2',
      '-m',
      '2048',
    ]);
    expect(argv.slice(11, 21)).toEqual([
      '-drive',
      'if=pflash,format=raw,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd',
      '-drive',
      'if=pflash,format=raw,file=/run/vars.fd',
      '-kernel',
      '/v/vmlinuz',
      '-initrd',
      '/v/initrd.img',
      '-append',
      'console=ttyAMA0,115200',
    ]);
    expect(argv).not.toContain('-boot');
    expect(argv).toContain(
      `type=11,value=io.systemd.credential.binary:ssh.authorized_keys.root=${Buffer.from('ssh-ed25519 AAAA test\n').toString('base64')}`,
    );
  });

  it('boots from the tree through GRUB for arm64-efi: the same flash drives, then the network', () => {
    const argv = qemuArgv({
      arch: arches.arm64,
      accel: 'tcg',
      memoryMiB: 2048,
      cpus: 2,
      sshPort: 2222,
      authorizedKey: 'k',
      consoleLog: '/c',
      mac: '52:54:00:12:34:a1',
      boot: { kind: 'pxe', tftpDir: '/srv/tftp', bootfile: 'grub/arm64-efi/core.efi', uefi: { code: '/c.fd', vars: '/v.fd' } },
    });
    expect(argv.slice(11, 16)).toEqual([
      '-drive',
      'if=pflash,format=raw,readonly=on,file=/c.fd',
      '-drive',
      'if=pflash,format=raw,file=/v.fd',
      '-boot',
    ]);
    expect(argv).toContain(
      'user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:2222-:22,mac=52:54:00:12:34:a1,tftp=/srv/tftp,bootfile=grub/arm64-efi/core.efi',
    );
    expect(arches.arm64.grub).toEqual({ platform: 'arm64-efi', package: 'grub-efi-arm64-bin' });
  });
});

describe('the arm64 recipes of this repository', () => {
  it('tiny-arm64 and compute-arm64 extend tiny and compute for arm64 with its kernel and serial console, and validate', async () => {
    const result = await runCli(['validate', 'recipes/tiny-arm64.yaml', 'recipes/compute-arm64.yaml']);
    expect(result.exitCode, result.stderr).toBe(0);
    const { recipes } = await loadRecipes(recipeRepo(projectRoot), ['recipes/tiny-arm64.yaml', 'recipes/compute-arm64.yaml']);
    expect(
      recipes.map((recipe) => [recipe.name, recipe.base.arch, recipe.kernel.package, recipe.kernel.cmdline, recipe.output.format]),
    ).toEqual([
      ['tiny-arm64', 'arm64', 'linux-image-cloud-arm64', 'console=ttyAMA0,115200', 'initramfs'],
      ['compute-arm64', 'arm64', 'linux-image-arm64', 'console=ttyAMA0,115200', 'squashfs'],
    ]);
    const [tiny] = (await loadRecipes(recipeRepo(projectRoot), ['recipes/tiny.yaml'])).recipes;
    expect(recipes[0]!.packages.install).toEqual(
      tiny!.packages.install.map((name) => (name === 'linux-image-cloud-amd64' ? 'linux-image-cloud-arm64' : name)),
    );
  });
});

describe('a tree that serves amd64 and arm64 node groups side by side', () => {
  let site: TreeSite;
  const v1 = '20261125T100000Z-11111111';
  const v2 = '20261125T110000Z-22222222';
  const armGroup = '  arm:\n    image: tiny-arm64\n    channel: staging\n    arch: arm64\n    macs: ["52:54:00:12:34:a1"]\n';
  beforeEach(async () => {
    site = await makeTreeSite(defaultSiteYaml(armGroup));
    await writeFile(path.join(site.repo, 'recipes/tiny-arm64.yaml'), 'name: tiny-arm64\n');
    await makeVersion(site.store, 'tiny', v1, { tested: 'passed' });
    await makeVersion(site.store, 'tiny-arm64', v2, { arch: 'arm64', tested: 'passed' });
  });
  afterEach(async () => {
    await site.remove();
  });
  const cli = (...argv: string[]) => runCli(argv, site.repo);

  it('renders GRUB configs for the arm64 group beside the amd64 ones, which grub-script-check accepts', async () => {
    expect((await cli('promote', `tiny@${v1}`, '--channel', 'staging')).exitCode).toBe(0);
    const promoted = await cli('promote', `tiny-arm64@${v2}`, '--channel', 'staging');
    expect(promoted.exitCode, promoted.stderr).toBe(0);
    const arm = await readFile(path.join(site.tftp, 'grub/grub.cfg-01-52-54-00-12-34-a1'), 'utf8');
    expect(arm.split('\n').slice(1)).toEqual([
      'set timeout=0',
      `menuentry 'tiny-arm64@${v2} (staging)' {`,
      `  linux /pxeforge/images/tiny-arm64/${v2}/vmlinuz console=ttyS0,115200 pxeforge.image=tiny-arm64 pxeforge.version=${v2} pxeforge.generation=2 pxeforge.group=arm pxeforge.channel=staging`,
      `  initrd /pxeforge/images/tiny-arm64/${v2}/initrd.img`,
      '}',
      '',
    ]);
    const check = await execa('grub-script-check', [path.join(site.tftp, 'grub/grub.cfg-01-52-54-00-12-34-a1')], { reject: false });
    expect(check.exitCode, check.stderr).toBe(0);
    // The amd64 canary keeps its own config in the same tree, and verify (grub-script-check over every GRUB config) passes.
    expect(await readFile(path.join(site.tftp, 'pxelinux.cfg/01-52-54-00-12-34-56'), 'utf8')).toContain(
      `/pxeforge/images/tiny/${v1}/vmlinuz`,
    );
    const verify = await cli('verify');
    expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0);
  });

  it("refuses an image of the other architecture for a group, at validate (located) and at promote, and GRUB of the other platform as a group's entry", async () => {
    await writeFile(
      path.join(site.repo, 'pxeforge.yaml'),
      defaultSiteYaml(`${armGroup}  x86:\n    image: tiny-arm64\n    channel: production\n`),
    );
    await writeFile(
      path.join(site.repo, 'recipes/tiny-arm64.yaml'),
      'name: tiny-arm64\nbase: { distro: debian, release: bookworm, arch: arm64 }\nkernel: { package: linux-image-arm64 }\noutput: { format: initramfs }\n',
    );
    const validate = await cli('validate', 'recipes/tiny-arm64.yaml');
    expect(validate.exitCode).toBe(2);
    // The x86 group takes the default architecture: the problem is located at the group.
    expect(validate.stderr).toMatch(
      /pxeforge\.yaml:\d+:\d+: nodeGroups\.x86\.arch: node group `x86` is amd64, and its image `tiny-arm64` is built for arm64\n/,
    );
    const refused = await cli('promote', `tiny-arm64@${v2}`, '--channel', 'production', '--json');
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('"code":"ARCH_MISMATCH"');
    expect(refused.stderr).toContain(
      `tiny-arm64@${v2} is built for arm64, and node group x86, which follows tiny-arm64 in production, is amd64`,
    );

    expect((await cli('promote', `tiny-arm64@${v2}`, '--channel', 'staging')).exitCode).toBe(0);
    await mkdir(path.join(site.tftp, 'grub/x86_64-efi'), { recursive: true });
    await writeFile(path.join(site.tftp, 'grub/x86_64-efi/core.efi'), 'not run');
    const wrong = await cli('test', `tiny-arm64@${v2}`, '--via', 'pxe', '--channel', 'staging', '--entry', 'grub/x86_64-efi/core.efi');
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toContain('--entry grub/x86_64-efi/core.efi is GRUB for x86_64-efi, but node group arm is arm64');
    expect(wrong.stderr).toContain('grub/arm64-efi/core.efi (grub-mknetdir with the modules of grub-efi-arm64-bin)');
  });
});
