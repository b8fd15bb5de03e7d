import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { bootRecordScript, bootRecordUnitFile, commonImagePrograms, commonImageUnits } from '../../src/formats/node-programs.js';
import { bootParameters, bootRecordProgram, bootRecordUnit, parseBootRecord, type BootRecord } from '../../src/nodes/boot-record.js';

/**
 * The boot record program as a node runs it, on the host: a fake /proc (command line, stat,
 * kernel release, boot id) and a run directory, its boot.json read back through the schema.
 */
let dir: string;
let proc: string;
let run: string;
const rootDigest = 'a'.repeat(64);
const nodeDigest = '0123456789abcdef'.repeat(4);

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-boot-record-'));
  proc = path.join(dir, 'proc');
  run = path.join(dir, 'run');
  await mkdir(path.join(proc, 'sys/kernel/random'), { recursive: true });
  await writeFile(path.join(proc, 'stat'), 'cpu  1 2 3\nintr 5\nbtime 1795590000\nprocesses 9\n');
  await writeFile(path.join(proc, 'sys/kernel/osrelease'), '6.1.0-27-cloud-amd64\n');
  await writeFile(path.join(proc, 'sys/kernel/random/boot_id'), '3f0c1e2a-7b7d-4c55-9d7e-2d9a1b2c3d4e\n');
  await writeFile(path.join(dir, 'boot-record'), bootRecordScript, { mode: 0o755 });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function record(cmdline: string): Promise<BootRecord> {
  await writeFile(path.join(proc, 'cmdline'), `${cmdline}\n`);
  const result = await execa('sh', [path.join(dir, 'boot-record'), '--proc', proc, '--run', run], { reject: false });
  expect(result.exitCode, result.stderr).toBe(0);
  const text = await readFile(path.join(run, 'boot.json'), 'utf8');
  const parsed = parseBootRecord(text);
  if (!('record' in parsed)) throw new Error(`boot.json is not a boot record: ${parsed.problem}\n${text}`);
  return parsed.record;
}

describe('the boot record program', () => {
  it('writes what a node booted through a rendered config: every parameter, the root verified by the initrd', async () => {
    await mkdir(run);
    await writeFile(path.join(run, 'root-verified'), `${rootDigest}\n`);
    const parameters = bootParameters({
      image: 'compute',
      version: '20261125T1204Z-3fa9c1d2',
      generation: 12,
      group: 'compute',
      channel: 'production',
      rootSha256: rootDigest,
      nodeFiles: nodeDigest,
    });
    const got = await record(
      `BOOT_IMAGE=/vmlinuz root=live:http://10.0.0.1/x/rootfs.squashfs ip=dhcp console=ttyS0,115200 ${parameters.join(' ')}`,
    );
    expect(got).toEqual({
      schemaVersion: 1,
      image: 'compute',
      version: '20261125T1204Z-3fa9c1d2',
      generation: 12,
      group: 'compute',
      channel: 'production',
      root: { sha256: rootDigest, verified: true },
      nodeFiles: { sha256: nodeDigest },
      kernel: '6.1.0-27-cloud-amd64',
      bootedAt: new Date(1795590000 * 1000).toISOString().replace('.000Z', 'Z'),
      bootId: '3f0c1e2a-7b7d-4c55-9d7e-2d9a1b2c3d4e',
    });
    const info = await stat(path.join(run, 'boot.json'));
    expect(info.mode & 0o777).toBe(0o644);
  });

  it('a root digest the initrd did not check (or checked as another) is not verified; no digest: the root is not fetched', async () => {
    expect((await record(`pxeforge.image=compute pxeforge.version=v1 pxeforge.root_sha256=${rootDigest}`)).root).toEqual({
      sha256: rootDigest,
      verified: false,
    });
    await mkdir(run, { recursive: true });
    await writeFile(path.join(run, 'root-verified'), `${'b'.repeat(64)}\n`);
    expect((await record(`pxeforge.image=compute pxeforge.version=v1 pxeforge.root_sha256=${rootDigest}`)).root.verified).toBe(false);
    const tiny = await record('console=ttyS0,115200 pxeforge.image=tiny pxeforge.version=v2');
    expect(tiny).toMatchObject({
      image: 'tiny',
      version: 'v2',
      generation: null,
      group: null,
      channel: null,
      root: { sha256: null, verified: null },
      nodeFiles: null,
    });
  });

  it('a boot without pxeforge parameters records nulls, and is still a boot record', async () => {
    const got = await record('console=ttyS0');
    expect(got).toMatchObject({ image: null, version: null, generation: null, root: { sha256: null, verified: null }, nodeFiles: null });
  });

  it('odd and hostile values are written as null, never into the JSON', async () => {
    const hostile = [
      'pxeforge.image=a"b',
      'pxeforge.version=1\\u0000',
      'pxeforge.group=*',
      'pxeforge.channel=$(touch${IFS}pwned)',
      'pxeforge.generation=012',
      `pxeforge.root_sha256=${'A'.repeat(64)}`,
      'pxeforge.nodefiles=abc',
    ].join(' ');
    const got = await record(hostile);
    expect(got).toMatchObject({
      image: null,
      version: null,
      group: null,
      channel: null,
      generation: null,
      root: { sha256: null, verified: false },
      nodeFiles: null,
    });
    expect(await stat(path.join(dir, 'pwned')).catch(() => undefined)).toBeUndefined();
    expect(await stat('pwned').catch(() => undefined)).toBeUndefined();
    // Too long, and a number past what JSON readers keep exactly.
    const long = await record(
      `pxeforge.image=${'x'.repeat(129)} pxeforge.generation=12345678901234567890 pxeforge.version=${'y'.repeat(128)}`,
    );
    expect(long).toMatchObject({ image: null, generation: null, version: 'y'.repeat(128) });
    // A kernel release or boot id with characters outside the allowed ones.
    await writeFile(path.join(proc, 'sys/kernel/osrelease'), '6.1 "evil"\n');
    await writeFile(path.join(proc, 'sys/kernel/random/boot_id'), 'x"y\n');
    expect(await record('pxeforge.image=tiny')).toMatchObject({ kernel: '', bootId: '' });
  });

  it('the last of repeated parameters wins; values with = and quotes of the command line stay whole words', async () => {
    const got = await record('pxeforge.version=v1 pxeforge.version=v2 pxeforge.image=a=b');
    expect(got).toMatchObject({ version: 'v2', image: null });
  });

  it('is in every image, run by an enabled oneshot unit before sshd', () => {
    expect(commonImagePrograms[bootRecordProgram]).toBe(bootRecordScript);
    expect(commonImageUnits).toContain(bootRecordUnit);
    expect(bootRecordUnitFile).toContain(`ExecStart=${bootRecordProgram}`);
    expect(bootRecordUnitFile).toMatch(/Type=oneshot/);
    expect(bootRecordUnitFile).toMatch(/Before=ssh\.service/);
    expect(bootRecordUnitFile).toMatch(/After=local-fs\.target/);
    expect(bootRecordUnitFile).toMatch(/WantedBy=multi-user\.target/);
  });
});

describe('bootParameters', () => {
  it('renders the parameters in the order of the contract, each only when known', () => {
    expect(bootParameters({ image: 'tiny', version: 'v1' })).toEqual(['pxeforge.image=tiny', 'pxeforge.version=v1']);
    expect(
      bootParameters({
        image: 'c',
        version: 'v',
        generation: 0,
        group: 'g',
        channel: 'production',
        rootSha256: rootDigest,
        nodeFiles: nodeDigest,
      }),
    ).toEqual([
      'pxeforge.image=c',
      'pxeforge.version=v',
      'pxeforge.generation=0',
      'pxeforge.group=g',
      'pxeforge.channel=production',
      `pxeforge.root_sha256=${rootDigest}`,
      `pxeforge.nodefiles=${nodeDigest}`,
    ]);
  });

  it('refuses a value outside [A-Za-z0-9._@+-], and a digest that is not one', () => {
    expect(() => bootParameters({ image: 'tiny', version: 'v 1' })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => bootParameters({ image: 'tiny', version: 'v1', channel: 'a;b' })).toThrow(/pxeforge.channel/);
    expect(() => bootParameters({ image: 'tiny', version: 'v1', rootSha256: 'abc' })).toThrow(/not a sha256 digest/);
    expect(() => bootParameters({ image: 'tiny', version: 'v1', generation: -1 })).toThrow(/generation/);
  });
});

describe('parseBootRecord', () => {
  it('says what is wrong with a text that is not a boot record', () => {
    expect(parseBootRecord('{')).toEqual({ problem: 'not valid JSON' });
    expect(parseBootRecord('{"schemaVersion": 1}')).toMatchObject({ problem: expect.stringMatching(/^image: /) });
  });
});
