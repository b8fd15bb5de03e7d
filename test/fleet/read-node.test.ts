import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type FixtureNode, type FleetServer, startFleetServer } from '../../scripts/fleet-ssh-server.mjs';
import { maxRecordBytes, type NodeTarget, readNode } from '../../src/fleet/read-node.js';
import { newEd25519KeyPair, publicKeyFingerprint } from '../../src/nodes/host-keys.js';

/** readNode over the node session: the limits of a boot record read (the states are in fleet-status.test.ts). */
const fleetKey = newEd25519KeyPair('test');
const hostKey = newEd25519KeyPair('test');
let server: FleetServer;
const nodes = new Map<string, FixtureNode>();

beforeAll(async () => {
  server = await startFleetServer({ authorizedKey: fleetKey.public, nodes });
  nodes.set('127.79.0.1', { hostKey: hostKey.private, answer: { text: 'x'.repeat(maxRecordBytes + 1) } });
  nodes.set('127.79.0.2', { hostKey: hostKey.private, answer: 'hang' });
});
afterAll(async () => {
  await server?.close();
});

const target = (address: string, signal = new AbortController().signal): NodeTarget => ({
  address,
  port: server.port,
  user: 'root',
  privateKey: Buffer.from(fleetKey.private),
  hostKeys: [publicKeyFingerprint(hostKey.public)!],
  timeoutMs: 5000,
  signal,
});

describe('readNode', () => {
  it('refuses a record larger than it may be', async () => {
    expect(await readNode(target('127.79.0.1'))).toEqual({
      kind: 'bad record',
      problem: `the boot record is larger than ${maxRecordBytes} bytes`,
    });
  });

  it('an abort while the node has not answered ends the read: stopped', async () => {
    const controller = new AbortController();
    const reading = readNode(target('127.79.0.2', controller.signal));
    setTimeout(() => controller.abort(), 300);
    const started = Date.now();
    expect(await reading).toEqual({ kind: 'unreachable', problem: 'stopped' });
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
