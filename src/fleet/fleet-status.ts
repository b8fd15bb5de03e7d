import path from 'node:path';

import { InterruptedError, invalidInput } from '../errors/user-error.js';
import { quoted } from '../errors/quote-text.js';
import { fetchedRoot } from '../formats/registry.js';
import { publicKeyFingerprint } from '../nodes/host-keys.js';
import { type KnownHosts, parseKnownHosts } from '../nodes/known-hosts.js';
import { hostKeyFiles } from '../nodes/node-file.js';
import { readCurrent, readState, treePaths, type TreePaths, type TreeState } from '../promote/tree.js';
import type { FleetNode, FleetSnapshot } from '../report/fleet-snapshot.js';
import type { FleetSettings, NodeGroup, SiteTree } from '../site/site-config.js';
import { eachLimited } from '../progress/each-limited.js';
import { readRegularFile } from '../source/read-regular-file.js';
import { readManifest } from '../store/store.js';
import { classify, type Expected } from './classify.js';
import { type NodeTarget, readNode } from './read-node.js';

export interface FleetStatusOptions {
  /** Only the members of this node group. */
  group?: string;
  signal: AbortSignal;
  /** Called after each node is read: how many of how many. */
  progress?: (done: number, total: number) => void;
  now?: () => Date;
}

/** One member as `fleet status` saw it; the snapshot's node plus its MAC. */
export type FleetMember = FleetNode &
  Required<Pick<FleetNode, 'host' | 'address' | 'group' | 'channel' | 'expected' | 'state'>> & { mac: string };

export interface FleetStatus {
  snapshot: FleetSnapshot & Required<Pick<FleetSnapshot, 'counts' | 'generation'>>;
  /** The members in pxeforge.yaml's order (groups, then members). */
  members: FleetMember[];
}

interface Member {
  group: NodeGroup;
  mac: string;
  host: string | undefined;
  address: string | undefined;
}

/**
 * Reads every member's boot record over SSH, at most `fleet.parallel` at once, each within
 * `fleet.timeoutSeconds`, and says for each whether it runs what its group's channel serves now.
 * A node that cannot be read is `unreachable` (listed, never fatal). Host keys are checked:
 * a managed group's member must present its managed key, any other one a key of the site's
 * known_hosts file; a node with no known key is not connected to at all.
 */
export async function fleetStatus(site: SiteTree, options: FleetStatusOptions): Promise<FleetStatus> {
  const access = await fleetAccess(site, { signal: options.signal });
  const paths = treePaths(site.tftpRoot);
  const current = await readCurrent(paths);
  let groups = site.nodeGroups;
  if (options.group !== undefined) {
    groups = groups.filter((group) => group.name === options.group);
    if (groups.length === 0)
      throw invalidInput(
        'NO_NODE_GROUP',
        `no node group ${quoted(options.group)} in pxeforge.yaml`,
        `node groups: ${site.nodeGroups.map((g) => g.name).join(', ') || 'none'}`,
      );
  }
  const expectations = new Expectations(paths, current);
  const members: Member[] = groups.flatMap((group) =>
    group.members.map((member) => ({ group, mac: member.mac, host: member.host, address: access.address(member) })),
  );

  const results: FleetMember[] = new Array(members.length);
  let done = 0;
  await eachLimited([...members.keys()], access.settings.parallel, async (index) => {
    const member = members[index]!;
    results[index] = await memberStatus(member, await expectations.of(member.group, member.mac), access);
    done += 1;
    options.progress?.(done, members.length);
  });
  if (options.signal.aborted) throw new InterruptedError('fleet status');

  const counts = { current: 0, pendingReboot: 0, drift: 0, unreachable: 0 };
  const nodes: FleetSnapshot['nodes'] = {};
  for (const { mac, ...node } of results) {
    nodes[mac] = node;
    if (node.state === 'current') counts.current += 1;
    else if (node.state === 'pending reboot') counts.pendingReboot += 1;
    else if (node.state === 'drift') counts.drift += 1;
    else counts.unreachable += 1;
  }
  return {
    snapshot: {
      schemaVersion: 1,
      takenAt: (options.now?.() ?? new Date()).toISOString(),
      generation: current?.generation ?? null,
      counts,
      nodes,
    },
    members: results,
  };
}

/** One member read and classified: unreachable, a bad record (drift), or its record against what it should boot. */
async function memberStatus(member: Member, expected: Expected, access: FleetAccess): Promise<FleetMember> {
  const base = {
    mac: member.mac,
    host: member.host ?? null,
    address: member.address ?? null,
    group: member.group.name,
    channel: member.group.channel,
    expected: { image: expected.image, version: expected.version, generation: expected.generation, nodeFiles: expected.nodeFiles },
  };
  const unread = (state: 'unreachable' | 'drift', problem: string): FleetMember => ({
    ...base,
    booted: null,
    verified: null,
    pendingReboot: false,
    state,
    problem,
  });
  const target = await access.target(member);
  if ('problem' in target) return unread('unreachable', target.problem);
  const reading = await readNode(target);
  if (reading.kind === 'unreachable') return unread('unreachable', reading.problem);
  if (reading.kind === 'bad record') return unread('drift', reading.problem);
  const record = reading.record;
  const { state, problem } = classify(expected, record);
  return {
    ...base,
    booted: { image: record.image, version: record.version, generation: record.generation, bootedAt: record.bootedAt },
    verified: record.root.verified,
    pendingReboot: state === 'pending reboot',
    state,
    ...(problem === undefined ? {} : { problem }),
  };
}

/** How pxeforge reaches the members of node groups over SSH: the fleet key, and per member its address and accepted host keys. */
export interface FleetAccess {
  settings: FleetSettings;
  /** Where a member is reached: its `ip` in the `nodes` table, else its host name; undefined for a member by MAC only. */
  address(member: { host?: string | undefined }): string | undefined;
  /** What to connect to for a member, or why it is not connected to at all. */
  target(member: { group: NodeGroup; mac: string; host?: string | undefined }): Promise<NodeTarget | { problem: string }>;
}

/**
 * Reads the fleet key and the known hosts file of `fleet:` in pxeforge.yaml (refusing when
 * either cannot be read). Host keys are checked: a managed group's member must present its
 * managed key, any other one a key of the site's known_hosts file; a node with no known key
 * is not connected to at all. Targets carry `signal` (default: never aborts) and the fleet's
 * per-node timeout; a caller may give a target another signal or timeout.
 */
export async function fleetAccess(site: SiteTree, options: { signal?: AbortSignal } = {}): Promise<FleetAccess> {
  const settings = site.fleet ?? defaultFleetSettings;
  const privateKey = await readIdentity(settings);
  const knownHosts = await readKnownHosts(settings);
  const addresses = new Map((site.nodeConfig?.nodes ?? []).map((node) => [node.host, node.ip?.split('/')[0]]));
  const address = (member: { host?: string | undefined }) =>
    member.host === undefined ? undefined : (addresses.get(member.host) ?? member.host);
  return {
    settings,
    address,
    async target(member) {
      const at = address(member);
      if (at === undefined) return { problem: 'no address in pxeforge.yaml' };
      const keys = await acceptedKeys(site, { group: member.group, host: member.host, address: at }, settings, knownHosts);
      if ('problem' in keys) return keys;
      return {
        address: at,
        port: settings.port,
        user: settings.user,
        privateKey,
        hostKeys: keys.accepted,
        timeoutMs: settings.timeoutMs,
        signal: options.signal ?? new AbortController().signal,
      };
    },
  };
}

export const defaultFleetSettings: FleetSettings = {
  user: 'root',
  identityFile: undefined,
  port: 22,
  knownHosts: undefined,
  parallel: 64,
  timeoutMs: 10_000,
};

async function readIdentity(settings: FleetSettings): Promise<Buffer> {
  if (settings.identityFile === undefined)
    throw invalidInput(
      'NO_FLEET_KEY',
      'pxeforge.yaml names no SSH key to read the nodes with',
      'set `fleet: { ssh: { identityFile: <private key> } }` in pxeforge.yaml (its public key in root’s authorized_keys of the images)',
    );
  const read = await readRegularFile(settings.identityFile).catch((error: NodeJS.ErrnoException) => ({
    refused: error.code ?? 'unreadable',
  }));
  if ('refused' in read) throw invalidInput('NO_FLEET_KEY', `the fleet SSH key ${settings.identityFile} cannot be read (${read.refused})`);
  return read.content;
}

async function readKnownHosts(settings: FleetSettings): Promise<KnownHosts | undefined> {
  if (settings.knownHosts === undefined) return undefined;
  const read = await readRegularFile(settings.knownHosts).catch((error: NodeJS.ErrnoException) => ({
    refused: error.code ?? 'unreadable',
  }));
  if ('refused' in read)
    throw invalidInput('NO_KNOWN_HOSTS', `the known hosts file ${settings.knownHosts} cannot be read (${read.refused})`);
  return parseKnownHosts(read.content.toString('utf8'));
}

/** The host keys a member may present, or why it has none (then it is not connected to). */
async function acceptedKeys(
  site: SiteTree,
  member: { group: NodeGroup; host: string | undefined; address: string },
  settings: FleetSettings,
  knownHosts: KnownHosts | undefined,
): Promise<{ accepted: string[] } | { problem: string }> {
  if (member.group.hostKeys === 'managed') {
    if (member.host === undefined) return { problem: 'no managed host key (a member without a host name)' };
    const read = await readRegularFile(hostKeyFiles(site.secretsDir, member.host).public).catch(() => ({ refused: 'unreadable' }));
    const fingerprint = 'content' in read ? publicKeyFingerprint(read.content.toString('utf8')) : undefined;
    return fingerprint === undefined ? { problem: 'no managed host key in the secrets directory' } : { accepted: [fingerprint] };
  }
  if (knownHosts === undefined)
    return { problem: 'no known host key (its group is not `hostKeys: managed` and no `fleet.ssh.knownHosts`)' };
  const names = [member.host, member.address].filter((name): name is string => name !== undefined);
  const { accepted, revoked } = knownHosts.lookup([...new Set(names)], settings.port);
  const usable = accepted.filter((key) => !revoked.includes(key));
  return usable.length === 0 ? { problem: 'no known host key in the known hosts file' } : { accepted: usable };
}

/**
 * What each group's members should boot in the current generation, read once per image
 * version (its placed manifest: does the format fetch the root, and its digest) and once per
 * older generation (when each member's node archive last changed).
 */
class Expectations {
  private readonly versions = new Map<string, Promise<{ fetchesRoot: boolean; rootSha256: string | null }>>();
  private readonly states = new Map<number, Promise<TreeState | undefined>>();

  constructor(
    private readonly paths: TreePaths,
    private readonly current: { generation: number; state: TreeState } | undefined,
  ) {}

  async of(group: NodeGroup, mac: string): Promise<Expected> {
    const channelServed = this.current?.state.channels[group.channel]?.[group.image];
    // A member a rollout moved boots the rollout's version, since the wave that moved it.
    const rollout = this.current?.state.rollouts?.[group.channel]?.[group.image];
    const movedSince = rollout?.nodes[mac];
    const served =
      channelServed === undefined || rollout === undefined || movedSince === undefined
        ? channelServed
        : { version: rollout.version, since: movedSince };
    const archive = this.current?.state.nodes?.[mac]?.archive;
    const nodeFiles = archive === undefined ? null : (this.current?.state.files[archive]?.sha256 ?? null);
    const root = served === undefined ? { fetchesRoot: false, rootSha256: null } : await this.version(group.image, served.version);
    return {
      image: group.image,
      version: served?.version ?? null,
      generation: this.current?.generation ?? null,
      since: served?.since ?? null,
      nodeFiles,
      nodeFilesSince: archive === undefined ? null : await this.archiveSince(mac, archive),
      ...root,
    };
  }

  private version(image: string, version: string) {
    const key = `${image}@${version}`;
    let known = this.versions.get(key);
    if (known === undefined) {
      known = readManifest(path.join(this.paths.images, image, version)).then(
        (manifest) => {
          const root = fetchedRoot(manifest.format, manifest.artifacts);
          return { fetchesRoot: root !== undefined, rootSha256: root?.sha256 ?? null };
        },
        // A placed manifest that cannot be read: the node's own record says whether a digest was expected.
        () => ({ fetchesRoot: false, rootSha256: null }),
      );
      this.versions.set(key, known);
    }
    return known;
  }

  /** When the tree started serving `archive` to `mac`: the oldest generation of the run that ends in the current one. */
  private async archiveSince(mac: string, archive: string): Promise<string | null> {
    if (this.current === undefined) return null;
    let since = this.current.state.createdAt;
    for (let generation = this.current.generation - 1; generation >= 1; generation -= 1) {
      const state = await this.state(generation);
      if (state === undefined || state.nodes?.[mac]?.archive !== archive) break;
      since = state.createdAt;
    }
    return since;
  }

  private state(generation: number) {
    let known = this.states.get(generation);
    if (known === undefined) {
      known = readState(this.paths, generation).catch(() => undefined);
      this.states.set(generation, known);
    }
    return known;
  }
}
