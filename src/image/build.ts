import { appendFile, copyFile, lstat, mkdir, mkdtemp, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { getArch } from '../arches/registry.js';
import { getDistro } from '../distros/registry.js';
import type { Emit } from '../events/events.js';
import { run } from '../exec/run.js';
import { getFormat } from '../formats/registry.js';
import { plainLine } from '../progress/plain-reporter.js';
import { runStages, type Stage } from '../progress/stages.js';
import { readManifest, stageVersion, versionDir } from '../store/store.js';
import { overlayMountArgv, tarExtractArgv } from './argv.js';
import { cachedStep, stepCache } from './cache.js';
import { withChroot } from '../rootfs/chroot.js';
import { configureImage } from './configure.js';
import { sourceFileDigests } from '../integrity/digest.js';
import { cleanImage } from './hygiene.js';
import { buildNetbootInitrd, copyKernel, initrdCacheKey, installedKernel } from './kernel.js';
import { writeManifest } from './write-manifest.js';
import { removeWorkTree } from '../rootfs/mounts.js';
import { requireLocalFilesystem } from '../rootfs/filesystem-type.js';
import { applyOverlay } from './overlay.js';
import { makeBuildPlan } from './plan.js';
import { producingSettings } from '../site/build-settings.js';
import { gitProvenance } from './provenance.js';
import { runHooks } from './hooks.js';
import { prepareForeignBuild } from './foreign-arch.js';
import type { BuildContext, BuildOptions, BuildResult } from './build-context.js';

export type { BuildContext, BuildOptions, BuildResult } from './build-context.js';

/** The build, as a table of contents. Each stage is a verb over the plan. */
export const buildStages: Stage<BuildContext>[] = [
  { id: 'bootstrap', title: (context) => `Bootstrap the ${getDistro(context.plan.recipe.base.distro).title} root`, run: bootstrap },
  { id: 'packages', title: 'Install packages', run: installPackages },
  { id: 'root', title: 'Mount the work root over the package layer', run: mountRoot },
  { id: 'overlays', title: 'Apply overlays', run: applyOverlays },
  { id: 'configure', title: 'Configure services and accounts', run: configure },
  { id: 'hooks', title: 'Run hooks', run: hooks },
  { id: 'kernel', title: 'Kernel and initramfs', run: kernel },
  { id: 'hygiene', title: 'Remove per-host identity and build leftovers', run: hygiene },
  { id: 'pack', title: 'Pack the image', run: pack },
  { id: 'manifest', title: 'Write the manifest and publish the version', run: manifest },
];

/** Builds one recipe into a new image version in the store. Leaves nothing behind on failure. */
export async function buildImage(options: BuildOptions): Promise<BuildResult> {
  const { recipe, repo, site } = options;
  const git = options.provenance ?? (await gitProvenance(repo.root, recipe.sources));
  const sourceDateEpoch = Number(process.env.SOURCE_DATE_EPOCH ?? git.commitTime ?? Math.floor(Date.now() / 1000));
  if (git.commitTime === null && process.env.SOURCE_DATE_EPOCH === undefined) {
    options.emit({
      type: 'warning',
      message: 'the recipe repository is not a git checkout: timestamps are the build time, so builds are not reproducible',
    });
  }
  const sourceDigests: Record<string, string> = {};
  for (const source of recipe.sources) Object.assign(sourceDigests, await sourceFileDigests(repo.root, source));
  const plan = makeBuildPlan(recipe, {
    packageSources: await getDistro(recipe.base.distro).packageSources(recipe.base, site.mirror),
    sourceDateEpoch,
    sourceDigests,
    buildSettings: producingSettings(site),
  });
  await requireLocalDirectories(site, options.useCache);
  const work = await mkdtemp(path.join(site.work, `${recipe.name}-`));
  const staging = await stageVersion(site.store, recipe.name, plan.keys.inputs, () => new Date());
  const { version, staged } = staging;
  let pendingLog: Promise<void> = writeFile(path.join(work, 'build.log'), '');
  const context: BuildContext = {
    options,
    plan,
    cache: stepCache(site.cache),
    git,
    work,
    root: path.join(work, 'root'),
    staged,
    publish: staging.publish,
    version,
    cacheOutcomes: {},
    layers: {},
    durations: {},
    inputs: sourceDigests,
    flushLog: async () => {
      await pendingLog;
      return log;
    },
  };
  const log = path.join(work, 'build.log');
  const emit: Emit = (event) => {
    options.emit(event);
    if (event.type === 'stage-end') context.durations[event.stage] = event.durationMs;
    const line = plainLine(event);
    // build.log keeps everything the build printed, in order.
    if (line !== undefined) pendingLog = pendingLog.then(() => appendFile(log, `${line}\n`));
  };
  let published: string | undefined;
  try {
    // A root of another architecture runs its programs through binfmt and qemu-user-static.
    await prepareForeignBuild(getArch(recipe.base.arch), emit);
    await runStages(buildStages, context, { emit, signal: options.signal });
    published = versionDir(site.store, recipe.name, version);
  } finally {
    await pendingLog.catch(() => undefined);
    await removeWorkTree(work);
    if (published === undefined) await staging.discard();
  }
  return { name: recipe.name, version, dir: published, manifest: await readManifest(published) };
}

/**
 * Refuses, before anything is built, a work tree or package layer directory on a network
 * file system: the overlay needs both on a local disk. The store may be shared (a version is
 * staged under it and renamed within it).
 */
async function requireLocalDirectories(site: BuildOptions['site'], useCache: boolean): Promise<void> {
  const setting = site.localSetting ?? `\`work\` and \`cache\` in ${path.basename(site.file)}`;
  await requireLocalFilesystem(site.work, 'the work directory', setting);
  if (useCache) await requireLocalFilesystem(stepCache(site.cache).layersDir, 'the package layer directory', setting);
}

async function bootstrap(context: BuildContext, { emit, signal }: { emit: Emit; signal: AbortSignal }) {
  const { recipe } = context.plan;
  const entry = context.cache.entry('bootstrap', context.plan.keys.bootstrap);
  const { path: layer, outcome } = await cachedStep(
    entry,
    { useCache: context.options.useCache, private_: path.join(context.work, 'bootstrap.tar') },
    async (target) => {
      const { files, step } = getDistro(recipe.base.distro).bootstrap({
        base: recipe.base,
        sources: context.plan.packageSources,
        target,
        work: context.work,
        sourceDateEpoch: context.plan.sourceDateEpoch,
      });
      for (const file of files) await writeFile(file.path, file.text);
      await run(step.argv, { emit, signal, env: step.env }).catch(step.explain);
    },
  );
  context.layers.bootstrap = layer;
  context.cacheOutcomes.bootstrap = outcome;
  return outcome === 'hit' ? { skipped: `cached layer ${path.basename(layer)}` } : `${await sizeOf(layer)} layer`;
}

/** The package layer is kept unpacked: builds mount it read-only under their work tree. */
async function installPackages(context: BuildContext, { emit, signal }: { emit: Emit; signal: AbortSignal }) {
  const entry = context.cache.entry('packages', context.plan.keys.packages);
  const { path: layer, outcome } = await cachedStep(
    entry,
    { useCache: context.options.useCache, private_: path.join(context.work, 'packages') },
    async (target) => {
      await mkdir(target);
      await run(tarExtractArgv(context.layers.bootstrap!, target), { emit, signal });
      const { recipe, sourceDateEpoch } = context.plan;
      await withChroot(target, { emit, stage: 'packages', network: true }, async () => {
        for (const step of getDistro(recipe.base.distro).installPackages(target, recipe.packages.install, sourceDateEpoch)) {
          await run(step.argv, { emit, signal, env: step.env }).catch(step.explain);
        }
      });
    },
  );
  context.layers.packages = layer;
  context.cacheOutcomes.packages = outcome;
  return outcome === 'hit'
    ? { skipped: `cached layer ${path.basename(layer)}` }
    : `${context.plan.recipe.packages.install.length} packages requested`;
}

/**
 * The work root is an overlay: the package layer below (never written), this build's
 * changes above. Nothing is copied, so an overlay-only rebuild starts at once.
 */
async function mountRoot(context: BuildContext, { emit, signal }: { emit: Emit; signal: AbortSignal }) {
  const upper = path.join(context.work, 'upper');
  const scratch = path.join(context.work, 'overlay-work');
  for (const dir of [context.root, upper, scratch]) await mkdir(dir, { recursive: true });
  await run(overlayMountArgv(context.layers.packages!, upper, scratch, context.root), { emit, signal });
  return `over ${path.basename(context.layers.packages!)}`;
}

async function applyOverlays(context: BuildContext, { emit }: { emit: Emit; signal: AbortSignal }) {
  const { repo, recipe } = context.options;
  if (recipe.overlays.length === 0) return { skipped: 'the recipe has no overlays' };
  let files = 0;
  for (const name of recipe.overlays) {
    const meta = path.join(repo.overlaysDir, `${name}.yaml`);
    const hasMeta = await stat(meta).then(
      (info) => info.isFile(),
      () => false,
    );
    files += await applyOverlay(context.root, path.join(repo.overlaysDir, name), hasMeta ? meta : undefined, emit);
  }
  return `${files} entries from ${recipe.overlays.join(', ')}`;
}

async function configure(context: BuildContext, tools: { emit: Emit; signal: AbortSignal }) {
  return withChroot(context.root, { emit: tools.emit, stage: 'configure' }, () => configureImage(context.root, context.plan.recipe, tools));
}

async function hooks(context: BuildContext, tools: { emit: Emit; signal: AbortSignal }) {
  const { recipe, repo } = context.options;
  if (recipe.hooks.length === 0) return { skipped: 'the recipe has no hooks' };
  await withChroot(context.root, { emit: tools.emit, stage: 'hooks', network: true }, () =>
    runHooks(context.root, repo.root, recipe, context.plan.sourceDateEpoch, tools),
  );
  return `${recipe.hooks.length} hook(s)`;
}

async function kernel(context: BuildContext, tools: { emit: Emit; signal: AbortSignal }) {
  const { recipe } = context.plan;
  const distro = getDistro(recipe.base.distro);
  const version = await installedKernel(context.root, recipe.kernel.package, distro);
  context.kernelVersion = version;
  await copyKernel(context.root, version, path.join(context.staged, 'vmlinuz'));
  if (!getFormat(recipe.output.format).netbootInitrd) return `kernel ${version}; the root itself is the initramfs`;
  const entry = context.cache.entry('initrd', await initrdCacheKey(context.root, version, distro));
  const { path: file, outcome } = await cachedStep(
    entry,
    { useCache: context.options.useCache, private_: path.join(context.work, 'initrd.img') },
    (target) =>
      withChroot(context.root, { emit: tools.emit, stage: 'kernel' }, () => buildNetbootInitrd(context.root, version, target, tools)),
  );
  context.cacheOutcomes.initrd = outcome;
  await copyFile(file, path.join(context.staged, 'initrd.img'));
  return `kernel ${version}; netboot initrd ${outcome === 'hit' ? 'from cache' : 'built'}`;
}

async function hygiene(context: BuildContext) {
  const { repo, recipe } = context.options;
  let resolvConf: 'reset' | 'keep' = 'reset';
  for (const name of recipe.overlays) {
    if (
      await lstat(path.join(repo.overlaysDir, name, 'etc/resolv.conf')).then(
        () => true,
        () => false,
      )
    )
      resolvConf = 'keep';
  }
  const distro = getDistro(context.plan.recipe.base.distro);
  context.hygiene = await cleanImage(context.root, context.plan.recipe.hygiene.allowPrivateKeys, { distro, resolvConf });
  return `${context.hygiene.removed.length} paths removed; SSH host keys ${context.hygiene.sshHostKeys}; resolv.conf ${context.hygiene.resolvConf}`;
}

async function pack(context: BuildContext, tools: { emit: Emit; signal: AbortSignal }) {
  const { recipe, sourceDateEpoch } = context.plan;
  const format = getFormat(recipe.output.format);
  const output = path.join(context.staged, format.packed);
  const { compression, acceptCapabilityLoss } = recipe.output;
  await format.pack({ root: context.root, output, compression, acceptCapabilityLoss, epoch: sourceDateEpoch, tools });
  return `${format.packed} ${await sizeOf(output)}`;
}

async function manifest(context: BuildContext) {
  const { recipe } = context.options;
  await writeManifest(context);
  await copyFile(await context.flushLog(), path.join(context.staged, 'build.log'));
  await context.publish();
  return `${recipe.name}@${context.version}`;
}

async function sizeOf(file: string): Promise<string> {
  return `${((await stat(file)).size / 1024 / 1024).toFixed(1)} MiB`;
}
