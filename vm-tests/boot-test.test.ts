import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';

import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { testImage } from '../src/boot-test/boot-test.js';
import type { TestReport } from '../src/boot-test/report.js';
import { fileSha256 } from '../src/integrity/digest.js';
import type { Manifest } from '../src/store/manifest.js';
import { tempRecipeRepo, type TempRepo } from './helpers/recipe-repo.js';

let repo: TempRepo;
const versions: Record<string, string> = {};

async function build(name: string): Promise<void> {
  const result = await repo.pxeforge(['build', `recipes/${name}.yaml`]);
  expect(result.stderr).toBe('');
  versions[name] = /built \S+@(\S+) in/.exec(result.stdout)![1]!;
}

function versionDir(name: string): string {
  return path.join(repo.store, 'images', name, versions[name]!);
}

async function report(name: string): Promise<TestReport> {
  return JSON.parse(await readFile(path.join(versionDir(name), 'test-report.json'), 'utf8')) as TestReport;
}

async function freeLoopbackPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  return port;
}

/** Nothing a boot test of this file starts may outlive it: its VMs and relays, and its temp dirs (in the repository's own TMPDIR). */
async function expectNothingLeft(): Promise<void> {
  const ours = (await execa('ps', ['-eo', 'args'])).stdout.split('\n').filter((line) => line.includes(repo.tmp));
  expect(ours.filter((line) => line.startsWith('qemu-system') || line.includes('guest-relay'))).toEqual([]);
  expect(await readdir(repo.tmp)).toEqual([]);
}

beforeAll(async () => {
  repo = await tempRecipeRepo();
  await repo.write('recipes/nossh.yaml', 'name: nossh\nextends: tiny\nservices: { disable: [ssh] }\ntests: { boot: { timeout: 45 } }\n');
  await repo.write('recipes/panic.yaml', 'name: panic\nextends: tiny\nkernel: { cmdline: "console=ttyS0,115200 rdinit=/nonexistent" }\n');
  await repo.write(
    'recipes/badcheck.yaml',
    'name: badcheck\nextends: tiny\ntests:\n  checks:\n    - { name: motd greets, run: "cat /etc/motd", expect: hello }\n    - { name: hangs, run: "sleep 600", timeout: 5 }\n',
  );
  await repo.git(['add', '-A']);
  await repo.git(['commit', '-qm', 'broken variants']);
  for (const name of ['tiny', 'nossh', 'panic', 'badcheck']) await build(name);
});
afterAll(async () => {
  await repo?.remove();
});

describe('boot-testing recipes/tiny.yaml', () => {
  it('boots direct, passes every check, and the report binds to the artifact digests', async () => {
    const result = await repo.pxeforge(['test', 'tiny'], { tmp: true });
    expect(result.stdout).toMatch(new RegExp(`^tiny@${versions.tiny} via direct: PASSED in \\d+ s \\(6/6 checks\\)$`, 'm'));
    expect(result.exitCode).toBe(0);
    const tested = await report('tiny');
    const manifest = JSON.parse(await readFile(path.join(versionDir('tiny'), 'manifest.json'), 'utf8')) as Manifest;
    expect(tested.passed).toBe(true);
    expect(tested.artifacts).toEqual(manifest.artifacts);
    expect(tested.artifacts['initrd.img']!.sha256).toBe(await fileSha256(path.join(versionDir('tiny'), 'initrd.img')));
    expect(Object.keys(tested.phases).sort()).toEqual(['initramfs', 'kernel', 'multi-user', 'root mounted', 'ssh up']);
    expect(tested.checks.filter((c) => c.builtin).map((c) => c.name)).toHaveLength(4);
    // The node recorded what it booted: this version, its root in the initrd the kernel was given (nothing fetched).
    const record = tested.checks.find((c) => c.name === 'built-in: the boot record names what the node booted')!;
    expect(JSON.parse(record.output)).toMatchObject({
      image: 'tiny',
      version: versions.tiny,
      generation: null,
      group: null,
      root: { sha256: null, verified: null },
      kernel: manifest.kernel.version,
    });
    expect(tested.hostKey).toMatch(/^SHA256:/);
    expect(await readFile(path.join(versionDir('tiny'), 'junit.xml'), 'utf8')).toContain('failures="0"');
    expect(await readFile(path.join(versionDir('tiny'), 'console.log'), 'utf8')).toContain('Linux version');
    expect((await repo.pxeforge(['show', 'tiny'])).stdout).toMatch(/^boot test: passed via direct at \S+ \(6\/6 checks, (tcg|kvm)\)$/m);
    await expectNothingLeft();
  });

  it('boots through iPXE from the NIC, fetching kernel and initrd over HTTP; a new boot has new host keys', async () => {
    const firstKey = (await report('tiny')).hostKey;
    const result = await repo.pxeforge(['test', '--via', 'pxe', 'tiny'], { tmp: true });
    expect(result.stdout).toMatch(/via pxe: PASSED/);
    const tested = await report('tiny');
    expect(tested.via).toBe('pxe');
    expect(tested.qemu.argv).toContain('n');
    expect(tested.fetched.map((f) => f.path)).toEqual(['/vmlinuz', '/initrd.img']);
    expect(tested.hostKey).not.toBe(firstKey);
    await expectNothingLeft();
  });
});

describe('boot-test failures name their reason', () => {
  it('a kernel panic is caught from the console within seconds', async () => {
    const result = await repo.pxeforge(['test', 'panic'], { tmp: true });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/panic@\S+ via direct: FAILED in [\d.]+ s \(0\/0 checks\): kernel panic: .*Kernel panic - not syncing/);
    const tested = await report('panic');
    expect(tested.passed).toBe(false);
    expect(tested.failure?.reason).toMatch(/^kernel panic/);
    expect(tested.durationMs).toBeLessThan(90_000);
    expect(result.stderr).toContain('last console lines:');
    await expectNothingLeft();
  });

  it('a taken SSH port: QEMU cannot forward it, the test retries on another port', async () => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const taken = (blocker.address() as AddressInfo).port;
    const ports = [taken];
    // In this process too, the boot test's temp dir goes to the repository's own TMPDIR.
    const savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = repo.tmp;
    try {
      const events: string[] = [];
      const tested = await testImage({
        store: repo.store,
        image: 'panic',
        via: 'direct',
        emit: (event) => void (event.type === 'command' && events.push(event.command)),
        signal: new AbortController().signal,
        pickPort: async () => ports.shift() ?? freeLoopbackPort(),
      });
      expect(events.filter((command) => command.startsWith('qemu-system'))[0]).toContain(`hostfwd=tcp:127.0.0.1:${taken}-:22`);
      expect(tested.failure?.reason).toMatch(/^kernel panic/);
      expect(tested.qemu.argv.join(' ')).not.toContain(`:${taken}-:22`);
    } finally {
      process.env.TMPDIR = savedTmp;
      if (savedTmp === undefined) delete process.env.TMPDIR;
      blocker.close();
    }
    await expectNothingLeft();
  });

  it('sshd disabled and a failing and a hanging check, two VMs at once', async () => {
    const result = await repo.pxeforge(['test', '--parallel', '2', 'nossh', 'badcheck'], { tmp: true });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/^nossh@\S+ via direct: FAILED .*: no SSH after 45 s \(stuck in ssh up\)$/m);
    expect(result.stdout).toMatch(
      /^badcheck@\S+ via direct: FAILED .*: motd greets — output `.*`, expected `hello`; hangs — no result within 5 s$/m,
    );
    const [nossh, badcheck] = [await report('nossh'), await report('badcheck')];
    expect(nossh.failure?.consoleTail.length).toBeGreaterThan(0);
    expect(nossh.qemu.argv.join(' ')).not.toBe(badcheck.qemu.argv.join(' '));
    expect(badcheck.checks.filter((c) => c.builtin).every((c) => c.passed)).toBe(true);
    expect(await readFile(path.join(versionDir('badcheck'), 'junit.xml'), 'utf8')).toContain('failures="2"');
    await expectNothingLeft();
  });
});
