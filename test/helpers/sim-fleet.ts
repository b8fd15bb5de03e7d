import { readFile } from 'node:fs/promises';
import path from 'node:path';

import type { NodeReading } from '../../src/fleet/read-node.js';
import type { BootRecord } from '../../src/nodes/boot-record.js';
import type { FleetOps } from '../../src/rollout/rollout.js';
import type { RolloutNode } from '../../src/rollout/waves.js';

/**
 * Nodes that boot from a real PXE tree: a reboot reads the node's iPXE config in the current
 * generation (through the entry link of its MAC, as iPXE would fetch it) and records what its
 * kernel line says (`pxeforge.image=… pxeforge.version=… pxeforge.generation=…`) as its boot
 * record. Checks fail on the versions given as bad; nodes given as down answer nothing.
 */
export interface SimFleet {
  ops: FleetOps;
  /** Boots these nodes (the first boot, before any rollout). */
  boot(macs: readonly string[]): Promise<void>;
  record(mac: string): BootRecord | undefined;
  /** How many times each node was rebooted through `ops.reboot`. */
  reboots: Map<string, number>;
  /** Every reboot command, in order: the MACs it named. */
  rebootCalls: string[][];
  down: Set<string>;
  bad: Set<string>;
}

export function simFleet(tftp: string): SimFleet {
  const records = new Map<string, BootRecord>();
  const reboots = new Map<string, number>();
  const rebootCalls: string[][] = [];
  const down = new Set<string>();
  const bad = new Set<string>();
  let boots = 0;

  async function bootNode(mac: string): Promise<void> {
    const config = await readFile(path.join(tftp, 'pxeforge/current/ipxe', `${mac.replaceAll(':', '-')}.ipxe`), 'utf8');
    const value = (name: string) => new RegExp(`pxeforge\\.${name}=(\\S+)`).exec(config)?.[1] ?? null;
    boots += 1;
    records.set(mac, {
      schemaVersion: 1,
      image: value('image'),
      version: value('version'),
      generation: Number(value('generation')),
      group: value('group'),
      channel: value('channel'),
      root: { sha256: value('root_sha256'), verified: value('root_sha256') === null ? null : true },
      nodeFiles: null,
      kernel: '6.1.0-test',
      bootedAt: new Date().toISOString(),
      bootId: `boot-${boots}`,
    });
  }

  const ops: FleetOps = {
    async read(node: RolloutNode): Promise<NodeReading> {
      const record = records.get(node.mac);
      if (down.has(node.mac) || record === undefined) return { kind: 'unreachable', problem: 'ssh: ECONNREFUSED' };
      return { kind: 'record', record };
    },
    async check(node: RolloutNode, checks) {
      const version = records.get(node.mac)?.version;
      if (version !== undefined && version !== null && bad.has(version))
        return {
          ok: false,
          check: checks[0]?.name ?? 'no failed units',
          reason: 'exit status 1, expected 0',
          output: 'broken.service failed',
        };
      return { ok: true };
    },
    async reboot(nodes: readonly RolloutNode[]) {
      rebootCalls.push(nodes.map((node) => node.mac));
      const failed = new Map<string, string>();
      for (const node of nodes) {
        reboots.set(node.mac, (reboots.get(node.mac) ?? 0) + 1);
        if (down.has(node.mac)) failed.set(node.mac, 'exit status 1');
        else await bootNode(node.mac);
      }
      return failed;
    },
  };

  return {
    ops,
    boot: async (macs) => {
      for (const mac of macs) await bootNode(mac);
    },
    record: (mac) => records.get(mac),
    reboots,
    rebootCalls,
    down,
    bad,
  };
}
