import { setTimeout as sleep } from 'node:timers/promises';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type FixtureNode, type FleetServer, startFleetServer } from '../../scripts/fleet-ssh-server.mjs';
import type { CheckSpec } from '../../src/boot-test/checks.js';
import { printable } from '../../src/errors/quote-text.js';
import { type NodeTarget, openNodeSession } from '../../src/fleet/node-session.js';
import { newEd25519KeyPair, publicKeyFingerprint } from '../../src/nodes/host-keys.js';
import { checkNode, connectCheckName, maxCheckOutput } from '../../src/rollout/health.js';

/**
 * A node's health checks over one SSH session, against a real ssh2 server on loopback that
 * answers as several nodes (127.78.0.x), each with its own host key.
 */
const fleetKey = newEd25519KeyPair('test');
const hostKeys = [1, 2, 3, 4].map(() => newEd25519KeyPair('test'));
const fingerprint = (n: number) => publicKeyFingerprint(hostKeys[n - 1]!.public)!;
let server: FleetServer;
const nodes = new Map<string, FixtureNode>();

const answers: Record<string, ReturnType<NonNullable<FixtureNode['run']>>> = {
  'systemctl is-active slurmd': { stdout: 'active\n', exit: 0 },
  'systemctl is-active munge': { stdout: 'failed\n', stderr: '\u001b]0;owned\u0007munge.service failed\n', exit: 3 },
  'cat /etc/slurm/role': { stdout: 'login\n', exit: 0 },
  'journalctl -b': { stdout: 'y'.repeat(10_000), exit: 1 },
  'sleep forever': 'hang',
};

beforeAll(async () => {
  server = await startFleetServer({ authorizedKey: fleetKey.public, nodes });
  const run = (command: string) => answers[command];
  nodes.set('127.78.0.1', { hostKey: hostKeys[0]!.private, answer: 'missing', run });
  nodes.set('127.78.0.2', { hostKey: hostKeys[1]!.private, answer: 'missing', run });
  nodes.set('127.78.0.3', { hostKey: hostKeys[2]!.private, answer: 'hang-handshake' });
});
afterAll(async () => {
  await server?.close();
});

const target = (n: number, fields: Partial<NodeTarget> = {}): NodeTarget => ({
  address: `127.78.0.${n}`,
  port: server.port,
  user: 'root',
  privateKey: Buffer.from(fleetKey.private),
  hostKeys: [fingerprint(n)],
  timeoutMs: 5000,
  signal: new AbortController().signal,
  ...fields,
});
const never = new AbortController().signal;
const ran = (address: string) =>
  server.stats.commands.filter((line) => line.startsWith(`${address} `)).map((line) => line.slice(address.length + 1));

const slurmd: CheckSpec = { name: 'slurmd is running', run: 'systemctl is-active slurmd', expect: 'active' };
const munge: CheckSpec = { name: 'munge is running', run: 'systemctl is-active munge' };
const role: CheckSpec = { name: 'a compute node', run: 'cat /etc/slurm/role', expect: 'compute' };

describe('openNodeSession', () => {
  it('opens a session to a node presenting an accepted key; commands run over it', async () => {
    const opened = await openNodeSession(target(1));
    if ('problem' in opened) throw new Error(opened.problem);
    try {
      expect(opened.session.hostKey).toBe(fingerprint(1));
      expect(await opened.session.exec('systemctl is-active slurmd', 5000)).toEqual({
        stdout: 'active\n',
        stderr: '',
        exitCode: 0,
        timedOut: false,
      });
      expect(await opened.session.run('journalctl -b', { timeoutMs: 5000, maxBytes: 100 })).toMatchObject({
        stdout: 'y'.repeat(100),
        exitCode: 1,
        truncated: true,
      });
    } finally {
      opened.session.close();
    }
  });

  it('refuses a node presenting another key during the handshake: nothing runs on it', async () => {
    const before = server.stats.connections;
    expect(await openNodeSession(target(2, { hostKeys: [fingerprint(1)] }))).toEqual({ problem: 'host key mismatch' });
    expect(server.stats.connections).toBe(before + 1);
    expect(server.stats.authentications).not.toContain('127.78.0.2');
    expect(ran('127.78.0.2')).toEqual([]);
  });

  it('gives up on a node that never answers, by its timeout', async () => {
    const started = Date.now();
    expect(await openNodeSession(target(3, { timeoutMs: 500 }))).toEqual({ problem: 'no answer within 0.5 s' });
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe('checkNode', () => {
  it('passes when every check passes, all over one session', async () => {
    const connections = server.stats.connections;
    expect(await checkNode(target(1), [slurmd, { ...slurmd, name: 'slurmd again' }], never)).toEqual({ ok: true });
    expect(server.stats.connections).toBe(connections + 1);
    expect(server.stats.authentications).toContain('127.78.0.1');
  });

  it('stops at the first failure (exit status), naming the check, the reason and what the node printed', async () => {
    const before = ran('127.78.0.1').length;
    const health = await checkNode(target(1), [slurmd, munge, role], never);
    expect(health).toEqual({
      ok: false,
      check: 'munge is running',
      reason: 'exit status 3, expected 0',
      output: 'failed\n\n\u001b]0;owned\u0007munge.service failed'.trim(),
    });
    // The output is the node's text: a caller shows it escaped.
    expect(printable(health.ok ? '' : health.output)).toBe('failed\\n\\n\\x1b]0;owned\\x07munge.service failed');
    expect(ran('127.78.0.1').slice(before)).toEqual(['systemctl is-active slurmd', 'systemctl is-active munge']);
  });

  it('fails on output other than expected, and caps what it keeps', async () => {
    expect(await checkNode(target(1), [role], never)).toEqual({
      ok: false,
      check: 'a compute node',
      reason: 'output `login`, expected `compute`',
      output: 'login',
    });
    const health = await checkNode(target(1), [{ name: 'the journal', run: 'journalctl -b' }], never);
    expect(health.ok).toBe(false);
    if (health.ok) return;
    expect(health.output.startsWith('y'.repeat(maxCheckOutput))).toBe(true);
    expect(health.output.length).toBeLessThan(maxCheckOutput + 40);
  });

  it('a host key mismatch or an unreachable node fails before any check runs', async () => {
    expect(await checkNode(target(2, { hostKeys: [fingerprint(4)] }), [slurmd], never)).toEqual({
      ok: false,
      check: connectCheckName,
      reason: 'host key mismatch',
      output: '',
    });
    expect(server.stats.authentications).not.toContain('127.78.0.2');
    expect(ran('127.78.0.2')).toEqual([]);
    expect(await checkNode(target(3, { timeoutMs: 300 }), [slurmd], never)).toMatchObject({
      ok: false,
      check: connectCheckName,
      reason: 'no answer within 0.3 s',
    });
    expect(await checkNode(target(1, { address: '127.78.0.9' }), [slurmd], never)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^ssh: /),
    });
  });

  it('a check that hangs fails by its own timeout; an abort ends the session', async () => {
    const started = Date.now();
    expect(await checkNode(target(1), [slurmd, { name: 'hangs', run: 'sleep forever', timeout: 1 }], never)).toEqual({
      ok: false,
      check: 'hangs',
      reason: 'no result within 1 s',
      output: '',
    });
    expect(Date.now() - started).toBeLessThan(4000);

    const controller = new AbortController();
    const checking = checkNode(target(1), [{ name: 'hangs long', run: 'sleep forever', timeout: 600 }], controller.signal);
    await sleep(500);
    controller.abort();
    expect(await checking).toEqual({ ok: false, check: 'hangs long', reason: 'stopped', output: '' });
  });
});
