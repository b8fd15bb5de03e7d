/**
 * The QEMU command line of a boot test, as a pure function with each option beside its
 * value (snapshot-tested). The guest sees the host's loopback as 10.0.2.2 on QEMU's user
 * network; SSH reaches the guest through a host-forward on a loopback port.
 */
export const guestHostAddress = '10.0.2.2';

export type BootSource =
  | { kind: 'direct'; kernel: string; initrd: string; cmdline: string }
  /**
   * Network boot as a node does it: the firmware's PXE client (iPXE in the NIC ROM under
   * BIOS; OVMF's under UEFI, with `uefi` naming its code image and a writable copy of its
   * variable store) loads `bootfile` from the TFTP dir.
   */
  | { kind: 'pxe'; tftpDir: string; bootfile: string; uefi?: { code: string; vars: string } };

export interface QemuOptions {
  accel: 'kvm' | 'tcg';
  memoryMiB: number;
  cpus: number;
  boot: BootSource;
  sshPort: number;
  /** Public key (OpenSSH line) handed to systemd as the `ssh.authorized_keys.root` credential. */
  authorizedKey: string;
  consoleLog: string;
  mac?: string;
}

export function qemuArgv(options: QemuOptions): string[] {
  const nic = [
    'user',
    'model=virtio-net-pci',
    `hostfwd=tcp:127.0.0.1:${options.sshPort}-:22`,
    ...(options.mac === undefined ? [] : [`mac=${options.mac}`]),
    ...(options.boot.kind === 'pxe' ? [`tftp=${options.boot.tftpDir}`, `bootfile=${options.boot.bootfile}`] : []),
  ].join(',');
  const credential = Buffer.from(`${options.authorizedKey.trim()}\n`).toString('base64');
  return [
    'qemu-system-x86_64',
    '-machine', 'q35',
    '-accel', options.accel,
    '-cpu', options.accel === 'kvm' ? 'host' : 'max',
    '-smp', String(options.cpus),
    '-m', String(options.memoryMiB),
    ...(options.boot.kind === 'direct'
      ? ['-kernel', options.boot.kernel, '-initrd', options.boot.initrd, '-append', options.boot.cmdline]
      : [
          ...(options.boot.uefi === undefined
            ? []
            : ['-drive', `if=pflash,format=raw,readonly=on,file=${options.boot.uefi.code}`, '-drive', `if=pflash,format=raw,file=${options.boot.uefi.vars}`]),
          '-boot', 'n',
        ]),
    '-nic', nic,
    '-smbios', `type=11,value=io.systemd.credential.binary:ssh.authorized_keys.root=${credential}`,
    '-display', 'none',
    '-serial', `file:${options.consoleLog}`,
    '-monitor', 'none',
    '-no-reboot',
  ];
}
