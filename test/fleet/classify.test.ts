import { createHmac, randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { classify, type Expected } from '../../src/fleet/classify.js';
import type { BootRecord } from '../../src/nodes/boot-record.js';
import { newEd25519KeyPair, publicKeyFingerprint } from '../../src/nodes/host-keys.js';
import { parseKnownHosts } from '../../src/nodes/known-hosts.js';

const expected: Expected = {
  image: 'compute',
  version: 'v2',
  generation: 5,
  since: '2026-11-25T12:00:00Z',
  nodeFiles: 'a'.repeat(64),
  nodeFilesSince: '2026-11-25T14:00:00Z',
  fetchesRoot: true,
  rootSha256: 'c'.repeat(64),
};

const record = (fields: Partial<BootRecord> = {}): BootRecord => ({
  schemaVersion: 1,
  image: 'compute',
  version: 'v2',
  generation: 5,
  group: 'compute',
  channel: 'production',
  root: { sha256: 'c'.repeat(64), verified: true },
  nodeFiles: { sha256: 'a'.repeat(64) },
  kernel: '6.1.0-test',
  bootedAt: '2026-11-25T15:00:00Z',
  bootId: 'x',
  ...fields,
});

describe('classify', () => {
  it('current: the expected version and node files, root verified', () => {
    expect(classify(expected, record())).toEqual({ state: 'current' });
    expect(classify({ ...expected, fetchesRoot: false, rootSha256: null }, record({ root: { sha256: null, verified: null } }))).toEqual({
      state: 'current',
    });
  });

  it('drift: an unverified root where verification is expected, or another root digest', () => {
    expect(classify(expected, record({ root: { sha256: 'c'.repeat(64), verified: null } })).state).toBe('drift');
    expect(classify(expected, record({ root: { sha256: 'c'.repeat(64), verified: false } })).state).toBe('drift');
    expect(classify({ ...expected, fetchesRoot: false }, record({ root: { sha256: 'c'.repeat(64), verified: false } })).state).toBe(
      'drift',
    );
    expect(classify(expected, record({ root: { sha256: 'd'.repeat(64), verified: true } }))).toEqual({
      state: 'drift',
      problem: 'it booted a root digest other than the promoted one',
    });
  });

  it('pending reboot: an older generation booted before the version changed', () => {
    const old = record({ version: 'v1', generation: 4, bootedAt: '2026-11-25T11:59:59Z' });
    expect(classify(expected, old)).toEqual({ state: 'pending reboot' });
    expect(classify(expected, { ...old, bootedAt: '2026-11-25T12:00:01Z' }).state).toBe('drift');
    expect(classify(expected, { ...old, generation: 5 }).state).toBe('drift');
    expect(classify(expected, { ...old, generation: null }).state).toBe('drift');
  });

  it('pending reboot by node files: booted before the generation that changed its archive', () => {
    const old = record({ generation: 4, nodeFiles: { sha256: 'b'.repeat(64) }, bootedAt: '2026-11-25T13:00:00Z' });
    expect(classify(expected, old)).toEqual({ state: 'pending reboot' });
    expect(classify(expected, { ...old, bootedAt: '2026-11-25T14:30:00Z' })).toEqual({
      state: 'drift',
      problem: 'it booted after the change and runs other node files',
    });
    // Both differ: it must have booted before both changes.
    const both = { ...old, version: 'v1' };
    expect(classify(expected, both).state).toBe('drift');
    expect(classify(expected, { ...both, bootedAt: '2026-11-25T11:00:00Z' }).state).toBe('pending reboot');
  });

  it('drift: no record, or a group that serves nothing', () => {
    expect(classify(expected, undefined).state).toBe('drift');
    expect(classify({ ...expected, version: null }, record()).state).toBe('drift');
  });
});

describe('known_hosts', () => {
  const keys = [0, 1, 2, 3].map(() => newEd25519KeyPair('test').public);
  const fingerprint = (n: number) => publicKeyFingerprint(keys[n]!)!;
  const salt = randomBytes(20);
  const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('cn003').digest('base64')}`;
  const known = parseKnownHosts(
    [
      '# comment',
      `cn001,10.0.0.1 ${keys[0]}`,
      `[cn002]:2222 ${keys[1]}`,
      `${hashed} ${keys[2]}`,
      `cn1*,!cn100 ${keys[3]}`,
      `@revoked cn001 ${keys[0]}`,
      `@cert-authority * ${keys[1]}`,
      'garbage line',
      `cn009 ssh-ed25519 not-base64!`,
    ].join('\n'),
  );

  it('finds keys by name or address, port, hashed name and pattern', () => {
    expect(known.lookup(['cn001'], 22).accepted).toEqual([fingerprint(0)]);
    expect(known.lookup(['x', '10.0.0.1'], 22).accepted).toEqual([fingerprint(0)]);
    expect(known.lookup(['cn001'], 2222).accepted).toEqual([]);
    expect(known.lookup(['cn002'], 2222).accepted).toEqual([fingerprint(1)]);
    expect(known.lookup(['cn002'], 22).accepted).toEqual([]);
    expect(known.lookup(['cn003'], 22).accepted).toEqual([fingerprint(2)]);
    expect(known.lookup(['cn101'], 22).accepted).toEqual([fingerprint(3)]);
    expect(known.lookup(['cn100'], 22).accepted).toEqual([]);
    expect(known.lookup(['cn009'], 22).accepted).toEqual([]);
  });

  it('reports revoked keys and ignores certificate authorities', () => {
    expect(known.lookup(['cn001'], 22).revoked).toEqual([fingerprint(0)]);
    expect(known.lookup(['other'], 22)).toEqual({ accepted: [], revoked: [] });
  });
});
