import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { sha256 } from '../../src/integrity/digest.js';
import { pxeforgeBin } from '../helpers/cli.js';
import { manifestRecord } from '../helpers/records.js';

// The real CLI (bin/pxeforge.js, compiled: `npm run build`) boot-tests a version with a QEMU
// stand-in that prints a line every 0.2 s until stopped, with a TMPDIR of this test's own.
let dir: string;
const version = '20260101T000000Z-00000000';

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-cleanup-'));
  await mkdir(path.join(dir, 'tmp'));
  await mkdir(path.join(dir, 'bin'));
  const qemu = path.join(dir, 'bin/qemu-system-x86_64');
  await writeFile(
    qemu,
    `#!/bin/sh\n[ "$1" = --version ] && { echo 'QEMU emulator version 0 (stand-in)'; exit 0; }\necho $$ > '${dir}/qemu.pid'\nwhile :; do echo "fake qemu is running"; sleep 0.2; done\n`,
  );
  await chmod(qemu, 0o755);
  await mkdir(path.join(dir, 'repo'));
  await writeFile(path.join(dir, 'repo/pxeforge.yaml'), `store: ${dir}/store\ntftpRoot: ${dir}/tftp\n`);
  const versionDir = path.join(dir, 'store/images/tiny', version);
  await mkdir(versionDir, { recursive: true });
  const files = { vmlinuz: 'kernel bytes', 'initrd.img': 'initrd bytes' };
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(versionDir, name), content);
  const artifacts = Object.fromEntries(
    Object.entries(files).map(([name, content]) => [name, { sha256: sha256(content), size: content.length }]),
  );
  const manifest = manifestRecord({ name: 'tiny', version, artifacts });
  manifest.recipe.tests.boot = { memory: 256, cpus: 1, timeout: 120, builtinChecks: true };
  await writeFile(path.join(versionDir, 'manifest.json'), JSON.stringify(manifest));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function pxeforgeTest(): ChildProcess {
  return spawn(process.execPath, [pxeforgeBin, 'test', 'tiny'], {
    cwd: path.join(dir, 'repo'),
    env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}`, TMPDIR: path.join(dir, 'tmp'), CI: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function qemuStarted(): Promise<number> {
  await expect.poll(() => readFile(path.join(dir, 'qemu.pid'), 'utf8').catch(() => ''), { timeout: 20_000 }).toMatch(/^\d+\n$/);
  return Number(await readFile(path.join(dir, 'qemu.pid'), 'utf8'));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** What the run left: its TMPDIR must be empty and the QEMU stand-in gone. */
async function expectNothingLeft(qemuPid: number): Promise<void> {
  expect(await readdir(path.join(dir, 'tmp'))).toEqual([]);
  // Killed with its process group; a killed process lingers until it is reaped (under load, a moment).
  await expect.poll(() => alive(qemuPid), { timeout: 5_000 }).toBe(false);
}

describe('every way out of a boot test runs the same cleanup', () => {
  it('a reader that closes the pipe after one line (`pxeforge test tiny | head -1`)', async () => {
    const child = pxeforgeTest();
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(child, 'exit');
    const pid = await qemuStarted();
    // Like head -1: read up to the first line, then close the read end.
    let seen = '';
    for await (const chunk of child.stdout!) {
      seen += (chunk as Buffer).toString();
      if (seen.includes('\n')) break;
    }
    child.stdout!.destroy();
    const [code] = (await exited) as [number | null];
    await expectNothingLeft(pid);
    expect(stderr).not.toContain('internal error');
    expect(code).toBe(130);
  }, 30_000);

  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s',
    async (signal) => {
      const child = pxeforgeTest();
      child.stdout!.resume();
      const exited = once(child, 'exit');
      const pid = await qemuStarted();
      child.kill(signal);
      const [code] = (await exited) as [number | null];
      expect(code).toBe(130);
      await expectNothingLeft(pid);
    },
    30_000,
  );

  it('a second Ctrl-C, which exits at once', async () => {
    const child = pxeforgeTest();
    child.stdout!.resume();
    const exited = once(child, 'exit');
    const pid = await qemuStarted();
    child.kill('SIGINT');
    child.kill('SIGINT');
    const [code] = (await exited) as [number | null];
    expect(code).toBe(130);
    await expectNothingLeft(pid);
  }, 30_000);
});
