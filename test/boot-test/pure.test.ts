import { describe, expect, it } from 'vitest';

import { amd64 } from '../../src/arches/amd64.js';
import { builtinChecks, runCheck, type CheckSpec } from '../../src/boot-test/checks.js';
import { readConsole, stuckIn } from '../../src/boot-test/console-watch.js';
import { qemuArgv } from '../../src/boot-test/qemu-argv.js';
import { junitXml, type TestReport } from '../../src/boot-test/report.js';
import type { SshSession } from '../../src/boot-test/ssh.js';

describe('qemuArgv', () => {
  const common = {
    arch: amd64,
    accel: 'tcg' as const,
    memoryMiB: 2048,
    cpus: 2,
    sshPort: 40022,
    authorizedKey: 'ssh-ed25519 AAAA test',
    consoleLog: '/run/console.log',
  };

  const artifactServer = { port: 41080, relay: ['/usr/bin/node', '--no-warnings', '/run/guest-relay.cjs'] };

  it('direct kernel boot: the guest reaches the artifact server and nothing else of the host', () => {
    expect(
      qemuArgv({
        ...common,
        artifactServer,
        boot: { kind: 'direct', kernel: '/v/vmlinuz', initrd: '/v/initrd.img', cmdline: 'console=ttyS0,115200' },
      }),
    ).toMatchInlineSnapshot(`
      [
        "qemu-system-x86_64",
        "-machine",
        "q35",
        "-accel",
        "tcg",
        "-cpu",
        "max,-svm,-vmx,xlevel=0x80000008",
        "-smp",
        "2",
        "-m",
        "2048",
        "-kernel",
        "/v/vmlinuz",
        "-initrd",
        "/v/initrd.img",
        "-append",
        "console=ttyS0,115200",
        "-nic",
        "user,model=virtio-net-pci,restrict=on,host=10.0.2.1,guestfwd=tcp:10.0.2.2:41080-cmd:/usr/bin/node --no-warnings /run/guest-relay.cjs 41080,hostfwd=tcp:127.0.0.1:40022-:22",
        "-smbios",
        "type=11,value=io.systemd.credential.binary:ssh.authorized_keys.root=c3NoLWVkMjU1MTkgQUFBQSB0ZXN0Cg==",
        "-display",
        "none",
        "-vga",
        "none",
        "-serial",
        "file:/run/console.log",
        "-monitor",
        "none",
        "-no-reboot",
      ]
    `);
  });

  it('network boot through the NIC ROM, with KVM', () => {
    const argv = qemuArgv({
      ...common,
      artifactServer,
      accel: 'kvm',
      mac: '52:54:00:12:34:56',
      boot: { kind: 'pxe', tftpDir: '/t', bootfile: 'boot.ipxe' },
    });
    // QEMU's own DHCP and TFTP still answer with restrict=on.
    expect(argv).toContain(
      'user,model=virtio-net-pci,restrict=on,host=10.0.2.1,guestfwd=tcp:10.0.2.2:41080-cmd:/usr/bin/node --no-warnings /run/guest-relay.cjs 41080,hostfwd=tcp:127.0.0.1:40022-:22,mac=52:54:00:12:34:56,tftp=/t,bootfile=boot.ipxe',
    );
    expect(argv.slice(argv.indexOf('-boot'), argv.indexOf('-boot') + 2)).toEqual(['-boot', 'n']);
    expect(argv).not.toContain('-kernel');
    expect(argv.slice(argv.indexOf('-cpu'), argv.indexOf('-cpu') + 2)).toEqual(['-cpu', 'host']);
  });

  it('network boot with UEFI firmware: OVMF code read-only, a private copy of its variables', () => {
    const argv = qemuArgv({
      ...common,
      accel: 'tcg',
      boot: { kind: 'pxe', tftpDir: '/t', bootfile: 'grub/x86_64-efi/core.efi', uefi: { code: '/ovmf/CODE.fd', vars: '/run/VARS.fd' } },
    });
    const at = argv.indexOf('-boot');
    expect(argv.slice(at - 4, at + 2)).toEqual([
      '-drive',
      'if=pflash,format=raw,readonly=on,file=/ovmf/CODE.fd',
      '-drive',
      'if=pflash,format=raw,file=/run/VARS.fd',
      '-boot',
      'n',
    ]);
    expect(argv.join(' ')).toContain('tftp=/t,bootfile=grub/x86_64-efi/core.efi');
  });

  it("the relay command is quoted for QEMU's option syntax and its command split", () => {
    const argv = qemuArgv({
      ...common,
      artifactServer: { port: 8080, relay: ['/opt/node,v20/bin/node', "/tmp/it's here/guest-relay.cjs"] },
      boot: { kind: 'direct', kernel: 'k', initrd: 'i', cmdline: '' },
    });
    expect(argv[argv.indexOf('-nic') + 1]).toContain(
      `guestfwd=tcp:10.0.2.2:8080-cmd:'/opt/node,,v20/bin/node' '/tmp/it'\\''s here/guest-relay.cjs' 8080,hostfwd=`,
    );
  });

  it("a boot from the tree with the site's own HTTP server: no artifact server, no restriction", () => {
    const argv = qemuArgv({ ...common, boot: { kind: 'pxe', tftpDir: '/srv/tftp', bootfile: 'boot.ipxe' } });
    expect(argv[argv.indexOf('-nic') + 1]).toBe(
      'user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:40022-:22,tftp=/srv/tftp,bootfile=boot.ipxe',
    );
  });

  it('the credential carries the key, never a file in the image', () => {
    const argv = qemuArgv({ ...common, boot: { kind: 'direct', kernel: 'k', initrd: 'i', cmdline: '' } });
    const smbios = argv[argv.indexOf('-smbios') + 1]!;
    expect(Buffer.from(smbios.split('=').slice(3).join('='), 'base64').toString()).toBe('ssh-ed25519 AAAA test\n');
  });
});

describe('reading the console', () => {
  const empty = { phases: {}, fatal: undefined };

  it('follows the phases of a good boot', () => {
    let state = readConsole('[    0.000000] Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org)\n', 100, empty);
    state = readConsole(
      '[    1.2] Run /init as init process\nWelcome to \x1b[1mDebian GNU/Linux 12 (bookworm) dracut-059-4 (Initramfs)\x1b[0m!\n',
      1500,
      state,
    );
    expect(state.phases['root mounted']).toBeUndefined();
    state = readConsole('[   30.1] systemd[1]: Switching root.\n', 2000, state);
    expect(stuckIn(state)).toBe('multi-user');
    state = readConsole('[  OK  ] Reached target \x1b[0;1;39mmulti-user.target\x1b[0m - Multi-User System.\n', 9000, state);
    expect(state.phases).toEqual({ kernel: 100, initramfs: 1500, 'root mounted': 2000, 'multi-user': 9000 });
    expect(stuckIn(state)).toBe('ssh up');
    expect(state.fatal).toBeUndefined();
  });

  it.each([
    ['[    2.1] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)', 'kernel panic'],
    [
      '[   35.0] dracut-initqueue[480]: Warning: dracut-initqueue: starting timeout scripts\nGenerating "/run/initramfs/rdsosreport.txt"\nEntering emergency mode. Exit the shell to continue.',
      'emergency shell',
    ],
    ['[   20.1] dracut-initqueue[666]: curl: (7) Failed to connect to 10.0.2.2 port 8080: Connection refused', 'root image not fetched'],
  ])('stops at once on a fatal line: %s', (text, reason) => {
    expect(readConsole(text, 1, empty).fatal?.reason).toBe(reason);
  });
});

function fakeSession(
  replies: Record<string, { stdout: string; exitCode: number | null; timedOut?: boolean }>,
  hostKey = 'SHA256:new',
): SshSession {
  return {
    hostKey,
    exec: async (command) => ({ stderr: '', timedOut: false, ...(replies[command] ?? { stdout: '', exitCode: 127 }) }),
    close: () => {},
  };
}

describe('checks', () => {
  it('judge exit status, exact output and regular expressions', async () => {
    const session = fakeSession({
      ok: { stdout: 'active\n', exitCode: 0 },
      bad: { stdout: 'inactive\n', exitCode: 3 },
      hang: { stdout: '', exitCode: null, timedOut: true },
    });
    const run = (spec: Partial<CheckSpec>) => runCheck(session, { name: 'c', run: 'ok', ...spec });
    expect(await run({ expect: 'active' })).toMatchObject({ passed: true, output: 'active' });
    expect(await run({ run: 'bad', expect: 'active' })).toMatchObject({ passed: false, reason: 'exit status 3, expected 0' });
    expect(await run({ run: 'bad', exit: 3, expect: 'active' })).toMatchObject({
      passed: false,
      reason: 'output `inactive`, expected `active`',
    });
    expect(await run({ match: '^act' })).toMatchObject({ passed: true });
    expect(await run({ match: '^in' })).toMatchObject({ passed: false, reason: 'output `active` does not match /^in/' });
    expect(await run({ run: 'hang', timeout: 5 })).toMatchObject({ passed: false, reason: 'no result within 5 s' });
  });

  it('the built-in checks name failed units, a reused host key and a missing machine-id', async () => {
    const [units, , identity] = builtinChecks('initramfs', fakeSession({}, 'SHA256:old'), ['SHA256:old']);
    const failedUnits = fakeSession({
      [units!.run]: { stdout: 'active\nchrony.service loaded failed failed chrony\nfoo.mount loaded failed failed /foo\n', exitCode: 0 },
    });
    expect(await runCheck(failedUnits, units!)).toMatchObject({ passed: false, reason: 'failed units: chrony.service, foo.mount' });
    const reused = fakeSession(
      { [identity!.run]: { stdout: '0123456789abcdef0123456789abcdef\n/etc/ssh/ssh_host_ed25519_key', exitCode: 0 } },
      'SHA256:old',
    );
    expect(await runCheck(reused, identity!)).toMatchObject({
      passed: false,
      reason: 'SSH host key SHA256:old was already seen in another boot of this image',
    });
    const noId = fakeSession({ [identity!.run]: { stdout: '\n', exitCode: 0 } });
    expect((await runCheck(noId, identity!)).reason).toMatch(/^machine-id is/);
  });
});

describe('the identity check of a node with a managed host key', () => {
  const machineId = '0123456789abcdef0123456789abcdef\n/etc/ssh/ssh_host_ed25519_key';

  it('passes with exactly the managed key, even when earlier boots saw it; a machine-id is still made at boot', async () => {
    const [, , identity] = builtinChecks('initramfs', fakeSession({}, 'SHA256:managed'), ['SHA256:managed'], 'SHA256:managed');
    expect(identity!.name).toBe('built-in: this node presents its managed SSH host key and made its machine-id at boot');
    const same = fakeSession({ [identity!.run]: { stdout: machineId, exitCode: 0 } }, 'SHA256:managed');
    expect(await runCheck(same, identity!)).toMatchObject({ passed: true });
    const noId = fakeSession({ [identity!.run]: { stdout: '\n', exitCode: 0 } }, 'SHA256:managed');
    expect((await runCheck(noId, identity!)).reason).toMatch(/^machine-id is/);
  });

  it('fails when the node presents another key (one it made at boot)', async () => {
    const other = fakeSession({}, 'SHA256:made-at-boot');
    const [, , identity] = builtinChecks('squashfs', other, [], 'SHA256:managed');
    const session = fakeSession({ [identity!.run]: { stdout: machineId, exitCode: 0 } }, 'SHA256:made-at-boot');
    expect(await runCheck(session, identity!)).toMatchObject({
      passed: false,
      reason: "SSH host key SHA256:made-at-boot is not the node's managed key SHA256:managed",
    });
  });
});

describe('reports', () => {
  it('JUnit XML escapes what checks printed', () => {
    const report = {
      name: 'tiny',
      version: 'v1',
      via: 'direct',
      durationMs: 1500,
      checks: [
        {
          name: 'a <b>',
          builtin: false,
          command: 'x',
          passed: false,
          exitCode: 1,
          output: 'bad & "worse"\x07',
          durationMs: 10,
          reason: "it's <bad>",
        },
      ],
    } as unknown as TestReport;
    expect(junitXml(report)).toContain(
      '<testcase classname="tiny@v1 (direct)" name="a &lt;b&gt;" time="0.010"><failure message="it&apos;s &lt;bad&gt;">bad &amp; &quot;worse&quot;</failure></testcase>',
    );
  });
});
