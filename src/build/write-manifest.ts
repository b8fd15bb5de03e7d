import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { version as pxeforgeVersion } from '../cli/version.js';
import { run } from '../exec/run.js';
import { kernelCmdline, type Artifact, type Manifest } from '../store/manifest.js';
import type { BuildContext } from './build.js';
import { digestJson, fileSha256 } from './digest.js';

export const artifactNames = ['vmlinuz', 'initrd.img', 'rootfs.squashfs'] as const;

/** Writes manifest.json into the staged version directory. */
export async function writeManifest(context: BuildContext): Promise<Manifest> {
  const { recipe } = context.plan;
  const artifacts: Record<string, Artifact> = {};
  for (const name of artifactNames) {
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
    packages: await installedPackages(context.root),
    executor: context.options.executor ?? 'local',
    durations: context.durations,
    cache: context.cacheOutcomes,
    hygiene: context.hygiene!,
    recipe,
    pxeforgeVersion,
  };
  await writeFile(path.join(context.staged, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** The image's package list, read from its dpkg database with the host's dpkg-query. */
async function installedPackages(root: string): Promise<Manifest['packages']> {
  const { stdout } = await run(
    ['dpkg-query', `--admindir=${path.join(root, 'var/lib/dpkg')}`, '--show', '--showformat=${Package}\\t${Version}\\t${Architecture}\\t${db:Status-Abbrev}\\n'],
    { capture: true },
  );
  return stdout
    .split('\n')
    .map((line) => line.split('\t'))
    .filter(([, , , status]) => status?.startsWith('ii'))
    .map(([name = '', version = '', arch = '']) => ({ name, version, arch }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}
