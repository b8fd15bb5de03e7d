import { describe, expect, it } from 'vitest';

import { directBootParameters } from '../../src/boot-test/boot-test.js';
import { bootRecordCheck, builtinChecks, runCheck } from '../../src/boot-test/checks.js';
import type { SshSession } from '../../src/boot-test/ssh.js';
import type { BootRecord } from '../../src/nodes/boot-record.js';

/** The built-in check of the boot record, judged on records a node could write. */
const rootDigest = 'd'.repeat(64);
const archiveDigest = 'e'.repeat(64);

const record = (changes: Partial<BootRecord> = {}): BootRecord => ({
  schemaVersion: 1,
  image: 'compute',
  version: 'v1',
  generation: null,
  group: null,
  channel: null,
  root: { sha256: rootDigest, verified: true },
  nodeFiles: null,
  kernel: '6.1.0-27-cloud-amd64',
  bootedAt: '2026-11-26T07:00:00Z',
  bootId: '3f0c1e2a-7b7d-4c55-9d7e-2d9a1b2c3d4e',
  ...changes,
});

function session(stdout: string, exitCode = 0): SshSession {
  return { hostKey: 'SHA256:x', exec: async () => ({ stdout, stderr: '', exitCode, timedOut: false }), close: () => {} };
}

const judge = async (format: string, expectation: Parameters<typeof bootRecordCheck>[1], written: BootRecord | string) => {
  const check = bootRecordCheck(format, expectation);
  const result = await runCheck(session(typeof written === 'string' ? written : JSON.stringify(written)), check);
  return result.passed ? 'passed' : result.reason;
};

describe('the boot record check', () => {
  it('a direct squashfs boot: the image and version tested, the root verified', async () => {
    const direct = { image: 'compute', version: 'v1' };
    expect(await judge('squashfs', direct, record())).toBe('passed');
    expect(await judge('squashfs', direct, record({ version: 'v0' }))).toBe('version is "v0", not "v1"');
    expect(await judge('squashfs', direct, record({ root: { sha256: rootDigest, verified: false } }))).toBe(
      'the root was not verified before it was mounted (root.verified: false)',
    );
    expect(await judge('squashfs', direct, '')).toBe('/run/pxeforge/boot.json is not a boot record: not valid JSON');
    expect(await judge('squashfs', direct, '{"schemaVersion": 1, "image": "compute"}')).toMatch(
      /^\/run\/pxeforge\/boot\.json is not a boot record: version: /,
    );
  });

  it('an initramfs boot: nothing fetched, nothing to verify', async () => {
    const tiny = record({ image: 'tiny', root: { sha256: null, verified: null } });
    expect(await judge('initramfs', { image: 'tiny', version: 'v1' }, tiny)).toBe('passed');
    expect(
      await judge('initramfs', { image: 'tiny', version: 'v1' }, record({ image: 'tiny', root: { sha256: null, verified: false } })),
    ).toBe('root.verified is false for a root the node does not fetch');
  });

  it('through the tree: also the generation, group, channel and the node archive', async () => {
    const tree = {
      generation: 4,
      group: 'compute',
      channel: 'production',
      nodeArchive: { path: `pxeforge/nodes/${archiveDigest}.cpio`, sha256: archiveDigest },
    };
    const booted = record({ generation: 4, group: 'compute', channel: 'production', nodeFiles: { sha256: archiveDigest } });
    expect(await judge('squashfs', { image: 'compute', version: 'v1', tree }, booted)).toBe('passed');
    expect(await judge('squashfs', { image: 'compute', version: 'v1', tree }, { ...booted, generation: 3 })).toBe('generation is 3, not 4');
    expect(await judge('squashfs', { image: 'compute', version: 'v1', tree }, { ...booted, nodeFiles: null })).toBe(
      `nodeFiles is null, not {"sha256":"${archiveDigest}"}`,
    );
    expect(await judge('squashfs', { image: 'compute', version: 'v1', tree: { ...tree, nodeArchive: undefined } }, booted)).toBe(
      `nodeFiles is {"sha256":"${archiveDigest}"}, not null`,
    );
  });

  it('is a built-in check when the image has a boot record, and not for images built before', () => {
    const none = builtinChecks('squashfs', session(''), []);
    const withRecord = builtinChecks('squashfs', session(''), [], undefined, { image: 'compute', version: 'v1' });
    expect(withRecord).toHaveLength(none.length + 1);
    expect(withRecord.at(-1)!.name).toBe('built-in: the boot record names what the node booted, its root verified before it was mounted');
  });
});

describe('a direct boot', () => {
  it('passes the image, the version and the digest of a root the node fetches; no generation, group or channel', () => {
    const manifest = {
      name: 'compute',
      version: 'v1',
      artifacts: { vmlinuz: { sha256: 'a'.repeat(64), size: 1 }, 'rootfs.squashfs': { sha256: rootDigest, size: 2 } },
      recipe: { output: { format: 'squashfs' } },
    } as unknown as Parameters<typeof directBootParameters>[0];
    expect(directBootParameters(manifest)).toEqual(['pxeforge.image=compute', 'pxeforge.version=v1', `pxeforge.root_sha256=${rootDigest}`]);
    const tiny = { ...manifest, name: 'tiny', recipe: { output: { format: 'initramfs' } } } as typeof manifest;
    expect(directBootParameters(tiny)).toEqual(['pxeforge.image=tiny', 'pxeforge.version=v1']);
  });
});
