import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { rm } from 'node:fs/promises';
import path from 'node:path';

import type { TestReport } from '../../boot-test/report.js';
import { readTestReport } from '../../boot-test/report.js';
import { gitProvenance } from '../../image/provenance.js';
import { UserError } from '../../errors/user-error.js';
import type { Emit } from '../../events/events.js';
import type { Recipe } from '../../recipe/recipe.js';
import type { RecipeRepo } from '../../recipe/repo.js';
import { siteConfigName, type BuildSettings, type SiteExecutors } from '../../site/site-config.js';
import { parseImageRef } from '../../store/image-ref.js';
import { manifestArch } from '../../store/manifest-arch.js';
import { readManifest, resolveVersion, versionDir } from '../../store/store.js';
import type { KubeClient } from './client.js';
import { packInputs } from './inputs.js';
import { podLocalDirs, podManifest } from './pod-manifest.js';
import { builtVersion, readPodLine } from './protocol.js';
import { runPod } from './run-pod.js';

/**
 * Turns the pod's output back into events: pxeforge in the pod prints JSON events (`--json`),
 * which are rendered here exactly like a local run's; its final `result` line is returned.
 * Anything else the container prints becomes an output line. Nothing is kept but the result.
 */
export function relayLines(emit: Emit): { onLine: (line: string) => void; result: () => Record<string, unknown> | undefined } {
  let result: Record<string, unknown> | undefined;
  return {
    onLine(line) {
      const read = readPodLine(line);
      if (read.kind === 'result') result = read.value;
      else if (read.kind === 'event') emit(read.event);
      else emit({ type: 'output', stream: 'stdout', line });
    },
    result: () => result,
  };
}

export interface RemoteOptions {
  client: KubeClient;
  site: BuildSettings & SiteExecutors;
  emit: Emit;
  signal: AbortSignal;
  runId?: string;
  pollMs?: number;
  /** Where the events end up (stdout): read the pod's log no faster than this takes it. */
  output?: Writable;
}

function congestion(output: Writable | undefined): (() => Promise<unknown> | undefined) | undefined {
  if (output === undefined) return undefined;
  return () => (output.writableNeedDrain ? once(output, 'drain') : undefined);
}

export const newRunId = () => randomBytes(6).toString('hex');

/**
 * `pxeforge build --executor kubernetes`: the recipe's inputs go to the shared store as a tar
 * (checked by digest in the pod), a privileged pod runs `pxeforge build --executor local`
 * against the shared store, with the step cache and work trees on the pod's node-local
 * storage, and its events are rendered here live.
 */
export async function buildInPod(
  options: RemoteOptions & { repo: RecipeRepo; recipe: Recipe; useCache: boolean },
): Promise<{ name: string; version: string; dir: string }> {
  const { site, recipe } = options;
  const config = site.kubernetes!;
  const provenance = await gitProvenance(options.repo.root, recipe.sources);
  const inputs = await packInputs(options.repo.root, [...recipe.sources, siteConfigName], path.join(site.store, '.inputs'));
  options.emit({
    type: 'info',
    message: `inputs: ${inputs.entries} files and directories, sha256 ${inputs.sha256.slice(0, 16)}…, in ${inputs.file}`,
  });
  const command = [
    'pxeforge',
    '--json',
    'k8s',
    'run-build',
    '--inputs',
    inputs.file,
    '--sha256',
    inputs.sha256,
    '--recipe',
    recipe.chain[0]!,
    '--store',
    site.store,
    // The cache and work trees are node-local in the pod (overlayfs cannot use the shared file system).
    '--cache-dir',
    podLocalDirs.cache,
    '--work-dir',
    podLocalDirs.work,
    '--provenance',
    JSON.stringify(provenance),
    ...(options.useCache ? [] : ['--no-cache']),
  ];
  const relay = relayLines(options.emit);
  try {
    await runPod(
      options.client,
      podManifest({ kind: 'build', image: recipe.name, runId: options.runId ?? newRunId(), arch: recipe.base.arch, command, config }),
      {
        emit: options.emit,
        signal: options.signal,
        onLine: relay.onLine,
        what: `build of ${recipe.name}`,
        pollMs: options.pollMs,
        congested: congestion(options.output),
      },
    );
  } finally {
    await rm(inputs.file, { force: true });
  }
  const result = builtVersion.safeParse(relay.result());
  if (!result.success) {
    throw new UserError('POD_NO_RESULT', `build of ${recipe.name}: the pod ended without saying which version it built`, {
      hint: 'its log lines are above',
    });
  }
  const { version } = result.data;
  return { name: recipe.name, version, dir: versionDir(site.store, recipe.name, version) };
}

/** `pxeforge test --executor kubernetes`: the same boot test in a pod (KVM through the device plugin when configured). */
export async function testInPod(options: RemoteOptions & { image: string; via: 'direct' | 'pxe' }): Promise<TestReport> {
  const { site } = options;
  const { name, version = '' } = parseImageRef(options.image);
  const command = ['pxeforge', '--json', 'k8s', 'run-test', '--store', site.store, '--via', options.via, options.image];
  const arch = manifestArch(await readManifest((await resolveVersion(site.store, options.image)).dir));
  const relay = relayLines(options.emit);
  await runPod(
    options.client,
    podManifest({ kind: 'test', image: name, version, runId: options.runId ?? newRunId(), arch, command, config: site.kubernetes! }),
    {
      emit: options.emit,
      signal: options.signal,
      onLine: relay.onLine,
      what: `boot test of ${options.image}`,
      pollMs: options.pollMs,
      congested: congestion(options.output),
    },
  );
  const report = await readTestReport(versionDir(site.store, name, version));
  if (report === undefined)
    throw new UserError('POD_NO_RESULT', `boot test of ${options.image}: the pod ended without a test report in the store`);
  return report;
}
