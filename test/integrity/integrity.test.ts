import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { reportCovers, untestedArtifacts } from '../../src/integrity/coverage.js';
import { sha256 } from '../../src/integrity/digest.js';
import { checkFile, verifyVersion } from '../../src/integrity/verify.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-integrity-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const digest = (text: string) => ({ sha256: sha256(text), size: text.length });

describe('verifyVersion', () => {
  it('is empty when every artifact matches, and lists missing and changed ones in manifest order', async () => {
    await writeFile(path.join(dir, 'vmlinuz'), 'kernel');
    await writeFile(path.join(dir, 'initrd.img'), 'changed');
    const artifacts = { vmlinuz: digest('kernel'), 'initrd.img': digest('initrd'), 'rootfs.squashfs': digest('root') };
    expect(await verifyVersion(dir, { vmlinuz: artifacts.vmlinuz })).toEqual([]);
    expect(await verifyVersion(dir, artifacts)).toEqual([
      { name: 'initrd.img', problem: 'different' },
      { name: 'rootfs.squashfs', problem: 'missing' },
    ]);
  });

  it('an unreadable file counts as missing', async () => {
    if (process.getuid?.() === 0) return; // root reads it anyway
    await writeFile(path.join(dir, 'vmlinuz'), 'kernel');
    await chmod(path.join(dir, 'vmlinuz'), 0);
    expect(await checkFile(path.join(dir, 'vmlinuz'), sha256('kernel'))).toBe('missing');
  });
});

describe('report coverage', () => {
  const manifest = { artifacts: { vmlinuz: digest('k'), 'initrd.img': digest('i') } };
  it('covers exactly the artifacts of the manifest', () => {
    expect(reportCovers({ artifacts: { ...manifest.artifacts } }, manifest)).toBe(true);
    expect(untestedArtifacts(manifest.artifacts, manifest.artifacts)).toEqual([]);
  });
  it('names artifacts booted with another digest or not booted at all', () => {
    const report = { artifacts: { vmlinuz: digest('other') } };
    expect(untestedArtifacts(manifest.artifacts, report.artifacts)).toEqual(['vmlinuz', 'initrd.img']);
    expect(reportCovers(report, manifest)).toBe(false);
  });
});
