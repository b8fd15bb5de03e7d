import { invalidInput } from '../errors/user-error.js';
import { fleetAccess } from '../fleet/fleet-status.js';
import { readNode } from '../fleet/read-node.js';
import type { SiteTree } from '../site/site-config.js';
import { checkNode, connectCheckName } from './health.js';
import { rebootNodes, renderReboot, runReboots } from './reboot.js';
import type { FleetOps } from './rollout.js';
import type { RolloutNode } from './waves.js';

/**
 * The site's own ways to reach its nodes, for a rollout: boot records and health checks over
 * SSH as `fleet status` reads them (the fleet key, host keys checked), reboots through the
 * `rollout.reboot` command of pxeforge.yaml (argv, no shell).
 */
export async function siteFleetOps(site: SiteTree, signal: AbortSignal): Promise<FleetOps> {
  const settings = site.rollout;
  const template = settings?.reboot;
  if (settings === undefined || template === undefined)
    throw invalidInput(
      'NO_REBOOT_COMMAND',
      'pxeforge.yaml has no `rollout.reboot`: a rollout reboots each wave through the site’s own command',
      'e.g. `rollout: { reboot: [scontrol, reboot, ASAP, nextstate=resume, reason=pxeforge-rollout, "{hosts}"] }` (docs/site-config.md)',
    );
  const access = await fleetAccess(site, { signal });
  const groups = new Map(site.nodeGroups.map((group) => [group.name, group]));
  const target = (node: RolloutNode) => {
    const group = groups.get(node.group);
    if (group === undefined) return Promise.resolve({ problem: `node group ${node.group} is not in pxeforge.yaml any more` });
    return access.target({ group, mac: node.mac, host: node.host ?? undefined });
  };
  const commandsFor = (nodes: readonly RolloutNode[]) =>
    renderReboot(
      template,
      rebootNodes(
        site,
        nodes.map((node) => ({ mac: node.mac, host: node.host ?? undefined })),
      ),
    );
  return {
    async read(node) {
      const reached = await target(node);
      return 'problem' in reached ? { kind: 'unreachable', problem: reached.problem } : readNode(reached);
    },
    async check(node, checks) {
      const reached = await target(node);
      if ('problem' in reached) return { ok: false, check: connectCheckName, reason: reached.problem, output: '' };
      return checkNode(reached, checks, signal);
    },
    checkReboot(nodes) {
      commandsFor(nodes);
    },
    async reboot(nodes) {
      const commands = commandsFor(nodes);
      const failed = new Map<string, string>();
      for (const outcome of await runReboots(commands, { timeoutMs: settings.rebootTimeoutMs, signal })) {
        if (outcome.ok) continue;
        const said = outcome.output.trim().split('\n').at(-1) ?? '';
        for (const mac of outcome.macs) failed.set(mac, `${outcome.problem ?? 'failed'}${said === '' ? '' : `: ${said}`}`);
      }
      return failed;
    },
  };
}
