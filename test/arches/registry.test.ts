import { describe, expect, it } from 'vitest';

import { archNames, arches, getArch } from '../../src/arches/registry.js';
import { qemuArgv } from '../../src/boot-test/qemu-argv.js';
import { recipeFileSchema } from '../../src/recipe/schema.js';
import { siteConfigSchema } from '../../src/site/schema.js';

describe('architecture registry', () => {
  it.each(archNames)('%s resolves to its descriptor, named by its key', (name) => {
    expect(getArch(name)).toBe(arches[name]);
    expect(getArch(name).name).toBe(name);
  });

  it('an unknown name is an error that names the known ones', () => {
    expect(() => getArch('riscv64')).toThrow(
      expect.objectContaining({
        code: 'UNKNOWN_ARCH',
        message: 'unknown architecture `riscv64`',
        hint: 'known architectures: amd64, arm64',
      }),
    );
  });

  it('recipes and node groups accept exactly the registered names', () => {
    const archIssue = (arch: string) =>
      recipeFileSchema.safeParse({ name: 'x', base: { arch } }).error?.issues.some((issue) => issue.path.join('.') === 'base.arch') ??
      false;
    expect(archNames.map(archIssue)).toEqual(archNames.map(() => false));
    expect(archIssue('i386')).toBe(true);
    const group = (arch: string) => siteConfigSchema.safeParse({ nodeGroups: { g: { image: 'x', channel: 'c', arch } } }).success;
    expect(archNames.map(group)).toEqual(archNames.map(() => true));
    expect(group('i386')).toBe(false);
  });

  it('amd64 gives what the boot test ran before: qemu-system-x86_64, q35, host under KVM and max without SVM or VMX under TCG', () => {
    const { amd64 } = arches;
    expect([amd64.kernelName, amd64.qemu.binary, amd64.qemu.machine, amd64.qemu.cpu, amd64.bios]).toEqual([
      'x86_64',
      'qemu-system-x86_64',
      'q35',
      { kvm: 'host', tcg: 'max,-svm,-vmx,xlevel=0x80000008' },
      true,
    ]);
  });

  it('arm64 runs the virt machine of qemu-system-aarch64 and boots with UEFI only', () => {
    const argv = qemuArgv({
      arch: arches.arm64,
      accel: 'tcg',
      memoryMiB: 1024,
      cpus: 1,
      sshPort: 1,
      authorizedKey: 'k',
      consoleLog: '/c',
      boot: { kind: 'direct', kernel: 'k', initrd: 'i', cmdline: '' },
    });
    expect(argv.slice(0, 7)).toEqual(['qemu-system-aarch64', '-machine', 'virt', '-accel', 'tcg', '-cpu', 'max,pauth-impdef=on']);
    expect([arches.arm64.kernelName, arches.arm64.serialConsole, arches.arm64.bios]).toEqual(['aarch64', 'ttyAMA0', false]);
  });
});
