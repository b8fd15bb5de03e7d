import type { TreeState } from '../promote/tree.js';
import type { NodeGroup } from '../site/site-config.js';
import type { FleetSnapshot } from './fleet-snapshot.js';
import type { GroupView, MemberView } from './report-data.js';

/**
 * Node groups of pxeforge.yaml with what each member should boot now: the version the
 * group's channel serves of its image in the current generation. With a fleet snapshot,
 * each member also shows what it reported: booted version, verified root, pending reboot,
 * and drift (it booted something other than what it should).
 */
export function groupViews(groups: readonly NodeGroup[], state: TreeState | undefined, fleet: FleetSnapshot | undefined): GroupView[] {
  return groups.map((group) => {
    const version = state?.channels[group.channel]?.[group.image]?.version ?? null;
    const shouldBoot = version === null ? null : `${group.image}@${version}`;
    const rendered = state?.groups.find((g) => g.name === group.name);
    const notRendered =
      state !== undefined &&
      (rendered === undefined ||
        rendered.image !== group.image ||
        rendered.channel !== group.channel ||
        rendered.members !== group.members.length ||
        rendered.firmware !== group.firmware);
    const members = group.members.map(
      (member): MemberView => ({
        host: member.host ?? null,
        mac: member.mac,
        shouldBoot,
        fleet: fleet === undefined ? null : memberFleet(fleet.nodes[member.mac], shouldBoot),
      }),
    );
    const reported = members.filter((m) => m.fleet !== null && m.fleet.problem === null && m.fleet.booted !== null);
    return {
      name: group.name,
      image: group.image,
      channel: group.channel,
      firmware: group.firmware,
      shouldBoot,
      notRendered,
      members,
      counts: {
        members: members.length,
        reported: reported.length,
        drift: members.filter((m) => m.fleet?.drift === true).length,
        pendingReboot: members.filter((m) => m.fleet?.pendingReboot === true).length,
        unverified: reported.filter((m) => m.fleet?.verified !== true).length,
      },
    };
  });
}

function memberFleet(node: FleetSnapshot['nodes'][string] | undefined, shouldBoot: string | null): NonNullable<MemberView['fleet']> {
  if (node === undefined) return { booted: null, verified: null, pendingReboot: false, drift: false, problem: 'not in the snapshot' };
  const booted = node.booted === null ? null : `${node.booted.image ?? '?'}@${node.booted.version ?? '?'}`;
  return {
    booted,
    verified: node.verified,
    pendingReboot: node.pendingReboot,
    // `fleet status` says which state a node is in; older snapshots only what it booted.
    drift: node.state === undefined ? booted !== null && booted !== shouldBoot : node.state === 'drift',
    // A node that reported shows what it booted; its problem then is why it drifts, shown by the state.
    problem: booted === null ? (node.problem ?? null) : null,
  };
}
