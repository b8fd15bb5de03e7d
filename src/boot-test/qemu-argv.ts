import type { Architecture } from '../arches/architecture.js';

/**
 * The QEMU command line of a boot test, as a pure function with each option beside its
 * value (snapshot-tested). SSH reaches the guest through a host-forward on a loopback port.
 *
 * Rule: the guest reaches the test's artifact server and nothing else of the host. QEMU's
 * user network runs with `restrict=on` (no connection to the host or beyond, except the
 * explicit forwards; its own DHCP and TFTP still answer), and `guestfwd` maps exactly
 * guestHostAddress:<port> to the artifact server on the host's loopback, through a relay
 * program per connection. The user network's gateway moves to 10.0.2.1, since QEMU forwards
 * no guest address that is its own.
 */
export const guestHostAddress = '10.0.2.2';
const gatewayAddress = '10.0.2.1';

export type BootSource =
  /**
   * The kernel and initrd handed to QEMU. With `uefi` (architectures without BIOS: arm64), the
   * firmware boots them as a node's firmware boots a kernel (EFI stub, ACPI and SMBIOS tables;
   * systemd reads the SSH key credential from SMBIOS).
   */
  | { kind: 'direct'; kernel: string; initrd: string; cmdline: string; uefi?: UefiDrives }
  /**
   * Network boot as a node does it: the firmware's PXE client (iPXE in the NIC ROM under
   * BIOS; OVMF's under UEFI, with `uefi` naming its code image and a writable copy of its
   * variable store) loads `bootfile` from the TFTP dir.
   */
  | { kind: 'pxe'; tftpDir: string; bootfile: string; uefi?: UefiDrives };

/** UEFI firmware as flash drives: its code image (read-only) and this run's copy of its variable store, both in `format` (default raw). */
export interface UefiDrives {
  code: string;
  vars: string;
  format?: 'raw' | 'qcow2';
}

export interface QemuOptions {
  /** The machine QEMU emulates: its system binary, machine type and CPU per accelerator. */
  arch: { qemu: Pick<Architecture['qemu'], 'binary' | 'machine' | 'cpu'> };
  accel: 'kvm' | 'tcg';
  memoryMiB: number;
  cpus: number;
  boot: BootSource;
  sshPort: number;
  /** Public key (OpenSSH line) handed to systemd as the `ssh.authorized_keys.root` credential. */
  authorizedKey: string;
  consoleLog: string;
  mac?: string;
  /**
   * The test's artifact server: its loopback port (the guest uses the same one at
   * guestHostAddress) and the relay QEMU runs per connection. Unset when the node loads only
   * from the site's own servers (a tree boot): then the network is not restricted.
   */
  artifactServer?: { port: number; relay: readonly string[] };
}

export function qemuArgv(options: QemuOptions): string[] {
  const nic = [
    'user',
    'model=virtio-net-pci',
    ...(options.artifactServer === undefined ? [] : ['restrict=on', `host=${gatewayAddress}`, guestForward(options.artifactServer)]),
    `hostfwd=tcp:127.0.0.1:${options.sshPort}-:22`,
    ...(options.mac === undefined ? [] : [`mac=${options.mac}`]),
    ...(options.boot.kind === 'pxe' ? [`tftp=${options.boot.tftpDir}`, `bootfile=${options.boot.bootfile}`] : []),
  ].join(',');
  const credential = Buffer.from(`${options.authorizedKey.trim()}\n`).toString('base64');
  return [
    options.arch.qemu.binary,
    '-machine',
    options.arch.qemu.machine,
    '-accel',
    options.accel,
    '-cpu',
    options.arch.qemu.cpu[options.accel],
    '-smp',
    String(options.cpus),
    '-m',
    String(options.memoryMiB),
    ...(options.boot.uefi === undefined
      ? []
      : [
          '-drive',
          `if=pflash,format=${options.boot.uefi.format ?? 'raw'},readonly=on,file=${options.boot.uefi.code}`,
          '-drive',
          `if=pflash,format=${options.boot.uefi.format ?? 'raw'},file=${options.boot.uefi.vars}`,
        ]),
    ...(options.boot.kind === 'direct'
      ? ['-kernel', options.boot.kernel, '-initrd', options.boot.initrd, '-append', options.boot.cmdline]
      : ['-boot', 'n']),
    '-nic',
    nic,
    '-smbios',
    `type=11,value=io.systemd.credential.binary:ssh.authorized_keys.root=${credential}`,
    '-display',
    'none',
    // Headless: no VGA, so the guest spends no time on a frame buffer console nobody sees
    // (bochs-drm and fbcon take seconds under TCG). Firmware and kernel talk on the serial console.
    '-vga',
    'none',
    '-serial',
    `file:${options.consoleLog}`,
    '-monitor',
    'none',
    '-no-reboot',
  ];
}

/** `guestfwd=tcp:<guest address>:<port>-cmd:<relay> <port>`, quoted for QEMU (`,` doubled) and for the shell-like split QEMU applies to the command. */
function guestForward({ port, relay }: { port: number; relay: readonly string[] }): string {
  const command = [...relay, String(port)]
    .map((word) => (/^[\w@%+=:./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`))
    .join(' ');
  return `guestfwd=tcp:${guestHostAddress}:${port}-cmd:${command}`.replaceAll(',', ',,');
}
