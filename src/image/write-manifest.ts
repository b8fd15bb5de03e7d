import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { getFormat } from '../formats/registry.js';
import { version as pxeforgeVersion } from '../version.js';
import { kernelCmdline, type Artifact, type Manifest, type RecipeSnapshot } from '../store/manifest.js';
import { recipeSnapshotSchemaVersion } from '../store/manifest-schema.js';
import type { Recipe } from '../recipe/recipe.js';
import type { BuildContext } from './build-context.js';
import { digestJson, fileSha256 } from '../integrity/digest.js';
import { getDistro } from '../distros/registry.js';
import { imageAccounts } from './accounts.js';
import { applyNodeFilesProgram } from '../nodes/node-file.js';
import { bootRecordProgram, bootRecordUnit } from '../nodes/boot-record.js';
import { statImagePath } from '../rootfs/image-files.js';

/** Writes manifest.json into the staged version directory. */
export async function writeManifest(context: BuildContext): Promise<Manifest> {
  const { recipe } = context.plan;
  const artifacts: Record<string, Artifact> = {};
  // The kernel, then the files of the output format (e.g. initrd.img and rootfs.squashfs).
  for (const name of ['vmlinuz', ...getFormat(recipe.output.format).artifacts]) {
    const file = path.join(context.staged, name);
    const info = await stat(file).catch(() => undefined);
    if (info !== undefined) artifacts[name] = { sha256: await fileSha256(file), size: info.size };
  }
  const manifest: Manifest = {
    schemaVersion: 1,
    name: recipe.name,
    version: context.version,
    createdAt: new Date().toISOString(),
    inputsDigest: context.plan.keys.inputs,
    inputs: context.inputs,
    recipeDigest: digestJson(recipe),
    sourceDateEpoch: context.plan.sourceDateEpoch,
    git: { commit: context.git.commit, dirty: context.git.dirty },
    format: recipe.output.format,
    artifacts,
    kernel: { package: recipe.kernel.package, version: context.kernelVersion ?? '', cmdline: kernelCmdline(recipe) },
    packages: await getDistro(recipe.base.distro).installedPackages(context.root),
    executor: context.options.executor ?? 'local',
    durations: context.durations,
    cache: context.cacheOutcomes,
    hygiene: context.hygiene!,
    recipe: recipeSnapshot(recipe),
    pxeforgeVersion,
    accounts: await imageAccounts(context.root),
    ...((await statImagePath(context.root, applyNodeFilesProgram))?.isFile() ? { nodeFiles: { program: applyNodeFilesProgram } } : {}),
    ...((await statImagePath(context.root, bootRecordProgram))?.isFile() &&
    (await statImagePath(context.root, `/etc/systemd/system/multi-user.target.wants/${bootRecordUnit}`)) !== undefined
      ? { bootRecord: { program: bootRecordProgram, unit: bootRecordUnit } }
      : {}),
  };
  await writeFile(path.join(context.staged, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** The part of the recipe a manifest keeps (see recipeSnapshotSchema): what readers of a version use. */
export function recipeSnapshot(recipe: Recipe): RecipeSnapshot {
  return {
    schemaVersion: recipeSnapshotSchemaVersion,
    base: { distro: recipe.base.distro, release: recipe.base.release, arch: recipe.base.arch },
    packages: { install: recipe.packages.install },
    output: { format: recipe.output.format },
    tests: { boot: { ...recipe.tests.boot }, checks: recipe.tests.checks },
  };
}
