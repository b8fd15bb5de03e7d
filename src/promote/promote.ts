import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { readTestReport } from '../boot-test/report.js';
import { untestedArtifacts } from '../integrity/coverage.js';
import { sha256 } from '../integrity/digest.js';
import { verifyVersion } from '../integrity/verify.js';
import { ExitCode, invalidInput, UserError } from '../errors/user-error.js';
import { getFormat } from '../formats/registry.js';
import { didYouMean } from '../source/suggest.js';
import type { Manifest } from '../store/manifest.js';
import { manifestArch } from '../store/manifest-arch.js';
import { readManifest, resolveVersion } from '../store/store.js';
import { applyChange, readPlacedManifest, type ChangeResult, type TreeTools } from './apply.js';
import { rollbackNodeArchives } from './node-archives.js';
import { placeVersion } from './place.js';
import { currentUser } from './lock.js';
import type { SiteConfig } from '../site/site-config.js';
import { readState, type Served, type TreeState } from './tree.js';
import { listGenerations } from './write-generation.js';

export interface PromoteOptions {
  /** name@version (or name for the latest version in the store). */
  image: string;
  channel: string;
  reason?: string;
  force?: boolean;
  allowDirty?: boolean;
}

/** The channel of pxeforge.yaml with that name, or an error that names the ones there are. */
export function requireChannel(site: Pick<SiteConfig, 'channels'>, channel: string): SiteConfig['channels'][string] {
  const names = Object.keys(site.channels);
  const found = site.channels[channel];
  if (found === undefined) {
    throw invalidInput(
      'UNKNOWN_CHANNEL',
      `no channel \`${channel}\` in pxeforge.yaml`,
      didYouMean(channel, names) ?? `channels: ${names.join(', ')}`,
    );
  }
  return found;
}

/** Every node group that follows the image on the channel has the architecture it was built for. */
function requireGroupArch(site: Pick<SiteConfig, 'nodeGroups'>, channel: string, name: string, version: string, arch: string): void {
  const group = site.nodeGroups.find((item) => item.image === name && item.channel === channel && item.arch !== arch);
  if (group === undefined) return;
  throw invalidInput(
    'ARCH_MISMATCH',
    `${name}@${version} is built for ${arch}, and node group ${group.name}, which follows ${name} in ${channel}, is ${group.arch}`,
    `nothing was changed. Promote a version built for ${group.arch} (recipe \`base.arch: ${group.arch}\`), or set \`arch: ${arch}\` on node group ${group.name} in pxeforge.yaml if its nodes are ${arch}`,
  );
}

/** What a protected channel asks of a version: a passing boot test of exactly these artifacts. */
async function testVerdict(
  dir: string,
  manifest: Manifest,
): Promise<{ ok: boolean; why: string; digest: string | null; passed: boolean | null }> {
  const report = await readTestReport(dir);
  if (report === undefined) return { ok: false, why: 'it has no boot-test report', digest: null, passed: null };
  const digest = sha256(await readFile(path.join(dir, 'test-report.json')));
  if (!report.passed)
    return { ok: false, why: `its latest boot test (${report.startedAt}, via ${report.via}) failed`, digest, passed: false };
  const mismatched = untestedArtifacts(manifest.artifacts, report.artifacts);
  if (mismatched.length > 0) {
    return { ok: false, why: `its boot test tested other artifacts (${mismatched.join(', ')} differ)`, digest, passed: true };
  }
  return { ok: true, why: 'passed', digest, passed: true };
}

/** A version the store holds, checked to go into a channel: its artifacts, its architecture, and a protected channel's attestation. */
export interface Promotable {
  name: string;
  version: string;
  dir: string;
  manifest: Manifest;
  verdict: { ok: boolean; why: string; digest: string | null; passed: boolean | null };
}

/**
 * What `promote` and `rollout start` check before the tree is touched: the channel exists,
 * the version's artifacts match its manifest, every node group that follows the image there
 * has its architecture, a squashfs has an HTTP URL to be fetched from, and a protected
 * channel gets only a version whose boot test passed for exactly these artifacts (or one
 * forced with a reason) and that was built from committed recipes (or allowed dirty).
 */
export async function checkPromotable(tools: Pick<TreeTools, 'site' | 'emit'>, options: PromoteOptions): Promise<Promotable> {
  const { site, emit } = tools;
  const channel = requireChannel(site, options.channel);
  if (options.force && !options.reason)
    throw invalidInput('REASON_REQUIRED', '--force needs --reason "<why>" (it is recorded in the history)');
  const { name, version, dir } = await resolveVersion(site.store, options.image);
  const manifest = await readManifest(dir);
  requireGroupArch(site, options.channel, name, version, manifestArch(manifest));
  if (getFormat(manifest.format).needsHttp && site.httpBaseUrl === undefined) {
    throw invalidInput(
      'NO_HTTP_BASE_URL',
      `${name}@${version} is a ${manifest.format} image: nodes fetch its root over HTTP, and pxeforge.yaml has no httpBaseUrl`,
      'set `httpBaseUrl:` to the URL under which a web server serves the TFTP root',
    );
  }
  const [mismatch] = await verifyVersion(dir, manifest.artifacts);
  if (mismatch !== undefined) {
    throw new UserError(
      'ARTIFACT_TAMPERED',
      `${name}@${version}: ${mismatch.name} ${mismatch.problem === 'missing' ? 'is missing from the store' : 'does not match the sha256 in its manifest'}`,
      {
        hint: 'nothing was changed. Versions are immutable: rebuild the image instead of repairing its files',
      },
    );
  }
  const verdict = await testVerdict(dir, manifest);
  if (channel.protected && !verdict.ok && !options.force) {
    throw new UserError(
      'NOT_TESTED',
      `channel \`${options.channel}\` is protected and ${name}@${version} cannot go there: ${verdict.why}`,
      {
        hint: `nothing was changed. Run \`pxeforge test ${name}@${version}\` first (or --force --reason "<why>", recorded as forced)`,
        exitCode: ExitCode.invalidInput,
      },
    );
  }
  if (channel.protected && manifest.git.dirty && !options.allowDirty) {
    throw new UserError(
      'DIRTY_BUILD',
      `${name}@${version} was built from uncommitted recipe changes (commit ${manifest.git.commit ?? 'none'}); channel \`${options.channel}\` is protected`,
      {
        hint: 'nothing was changed. Commit the recipe change and build again, or pass --allow-dirty (recorded in the history)',
        exitCode: ExitCode.invalidInput,
      },
    );
  }
  if (channel.protected && !verdict.ok)
    emit({ type: 'warning', message: `forced into protected channel ${options.channel}: ${verdict.why}` });

  return { name, version, dir, manifest, verdict };
}

/** What a channel serves once it switches to a checked version (`forced`: --force was given), with the version it served before as the last to roll back to. */
export function nextServed(served: Served | undefined, to: Pick<Promotable, 'version' | 'manifest' | 'verdict'>, forced: boolean): Served {
  return {
    version: to.version,
    since: new Date().toISOString(),
    by: currentUser(),
    previous: served === undefined ? [] : [...served.previous.filter((v) => v !== to.version), served.version],
    forced: forced && !to.verdict.ok,
    testReport: to.verdict.digest,
    testPassed: to.verdict.passed,
    commit: to.manifest.git.commit,
    dirty: to.manifest.git.dirty,
  };
}

/**
 * `pxeforge promote name@version --channel c`: the version's artifacts are checked against
 * its manifest, placed in the tree, and the channel switches to it in a new generation.
 */
export async function promote(tools: TreeTools, options: PromoteOptions): Promise<ChangeResult & { placed?: string }> {
  const { name, version, dir, manifest, verdict } = await checkPromotable(tools, options);

  let placed: string | undefined;
  const result = await applyChange(tools, `promote ${name}@${version} --channel ${options.channel}`, async (current) => {
    refuseDuringRollout(current, options.channel, name, 'promote');
    const served = current?.channels[options.channel]?.[name];
    if (served?.version === version) return { nothing: `channel ${options.channel} already serves ${name}@${version}` };
    const next = nextServed(served, { version, manifest, verdict }, options.force === true);
    return {
      place: {
        manifest,
        run: async () => {
          placed = await placeVersion(tools.paths, manifest, dir);
        },
      },
      channels: withServed(current?.channels ?? {}, options.channel, name, next),
      change: {
        action: 'promote',
        channel: options.channel,
        image: name,
        from: served?.version ?? null,
        to: version,
        reason: options.reason ?? null,
        forced: next.forced,
        allowDirty: options.allowDirty === true && manifest.git.dirty,
        commit: manifest.git.commit,
        dirty: manifest.git.dirty,
        testReport: verdict.digest,
      },
    };
  });
  return { ...result, placed };
}

export interface RollbackOptions {
  image: string;
  channel: string;
  to?: string;
  reason?: string;
}

/**
 * `pxeforge rollback name --channel c [--to version]`: the channel goes back to the version it
 * served before (or to an earlier one it served), already in the tree: nothing is copied.
 */
export async function rollback(tools: TreeTools, options: RollbackOptions): Promise<ChangeResult> {
  requireChannel(tools.site, options.channel);
  if (options.image.includes('@'))
    throw invalidInput('BAD_ARGUMENT', `rollback takes an image name, not \`${options.image}\``, 'pick the version with --to <version>');
  const name = options.image;
  return applyChange(tools, `rollback ${name} --channel ${options.channel}`, async (current) => {
    refuseDuringRollout(current, options.channel, name, 'rollback');
    const served = current?.channels[options.channel]?.[name];
    if (served === undefined) {
      throw invalidInput(
        'NOTHING_TO_ROLL_BACK',
        `channel \`${options.channel}\` serves no version of \`${name}\``,
        `channels serving ${name}: ${servingChannels(current, name)}`,
      );
    }
    if (served.previous.length === 0) {
      throw invalidInput(
        'NO_EARLIER_VERSION',
        `channel \`${options.channel}\` has served only ${name}@${served.version}: there is no earlier version to roll back to`,
        'nothing was changed; promote another version instead',
      );
    }
    const to = options.to ?? served.previous.at(-1)!;
    const index = served.previous.lastIndexOf(to);
    if (index < 0) {
      throw invalidInput(
        'NOT_SERVED_BEFORE',
        `channel \`${options.channel}\` never served ${name}@${to}`,
        `it served (most recent last): ${served.previous.join(', ')}; to serve another version, promote it`,
      );
    }
    const manifest = await readPlacedManifest(tools.paths, name, to);
    // Node files go back with the version: the archives of the generation that served it last.
    const back = await lastGenerationServing(tools.paths, current!.generation, options.channel, name, to);
    if (back === undefined && Object.keys(current!.nodes ?? {}).length > 0)
      tools.emit({
        type: 'warning',
        message: `no generation that served ${name}@${to} in ${options.channel} is left (gc removed it): its node groups' node files are made from pxeforge.yaml as it is now`,
      });
    const next: Served = {
      version: to,
      since: new Date().toISOString(),
      by: currentUser(),
      previous: served.previous.slice(0, index),
      forced: false,
      testReport: null,
      testPassed: null,
      commit: manifest.git.commit,
      dirty: manifest.git.dirty,
    };
    return {
      channels: withServed(current!.channels, options.channel, name, next),
      reuseNodes: rollbackNodeArchives(tools.site, options.channel, name, current!, back),
      change: {
        action: 'rollback',
        channel: options.channel,
        image: name,
        from: served.version,
        to,
        reason: options.reason ?? null,
        forced: false,
        allowDirty: false,
        commit: manifest.git.commit,
        dirty: manifest.git.dirty,
        testReport: null,
      },
    };
  });
}

/**
 * `pxeforge refresh`: renders a new generation from pxeforge.yaml as it is now (node groups
 * changed) with every channel unchanged.
 */
export async function refresh(tools: TreeTools, reason: string | undefined): Promise<ChangeResult> {
  return applyChange(tools, 'refresh', async (current) => {
    if (current === undefined) return { nothing: 'nothing has been promoted yet' };
    return {
      channels: current.channels,
      change: {
        action: 'refresh',
        channel: null,
        image: null,
        from: null,
        to: null,
        reason: reason ?? null,
        forced: false,
        allowDirty: false,
        commit: null,
        dirty: false,
        testReport: null,
      },
    };
  });
}

/** The newest generation before `before` in which the channel served image@version (undefined: none left). */
async function lastGenerationServing(
  paths: TreeTools['paths'],
  before: number,
  channel: string,
  image: string,
  version: string,
): Promise<TreeState | undefined> {
  for (const n of (await listGenerations(paths)).filter((g) => g < before).reverse()) {
    const state = await readState(paths, n).catch(() => undefined);
    if (state?.channels[channel]?.[image]?.version === version) return state;
  }
  return undefined;
}

/** A channel with a rollout of the image in progress changes only through the rollout (its nodes would be left on two versions). */
function refuseDuringRollout(current: TreeState | undefined, channel: string, image: string, verb: string): void {
  const rollout = current?.rollouts?.[channel]?.[image];
  if (rollout === undefined) return;
  throw invalidInput(
    'ROLLOUT_ACTIVE',
    `a rollout of ${image}@${rollout.version} in channel \`${channel}\` is in progress (${Object.keys(rollout.nodes).length} node(s) moved): ${verb} would leave its nodes on two versions`,
    'nothing was changed. `pxeforge rollout status` shows it; `pxeforge rollout resume` finishes it, `pxeforge rollout abort` moves its nodes back',
  );
}

function servingChannels(current: TreeState | undefined, name: string): string {
  const channels = Object.entries(current?.channels ?? {})
    .filter(([, images]) => images[name] !== undefined)
    .map(([channel]) => channel);
  return channels.length === 0 ? 'none' : channels.join(', ');
}

export function withServed(channels: TreeState['channels'], channel: string, image: string, served: Served): TreeState['channels'] {
  return { ...channels, [channel]: { ...channels[channel], [image]: served } };
}
