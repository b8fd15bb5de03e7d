import path from 'node:path';

import { getDistro, isDistroName } from '../distros/registry.js';
import { formatPath } from '../errors/format-path.js';
import type { Problem } from '../errors/problems.js';
import { quoted } from '../errors/quote-text.js';
import { formatNames, getFormat } from '../formats/registry.js';
import type { ParsedFile } from './catalog.js';
import { cmdlineSizeHint, cmdlineSizeProblem } from './cmdline-size.js';
import { concatUnique, mergeRecipeFiles } from './merge.js';
import { didYouMean } from '../source/suggest.js';
import { compressionLevels, defaults, type Recipe } from './recipe.js';
import type { RecipeFile } from './schema.js';

export interface ChainLevel {
  parsed: ParsedFile<RecipeFile>;
  value: RecipeFile;
}

/**
 * Turns a resolved `extends` chain (root first, the recipe itself last) into a Recipe:
 * merge, apply defaults, compute the install set level by level, then check the rules that
 * only make sense on the merged result. Problems are located in the recipe's own file.
 */
export function normalizeRecipe(
  chain: ChainLevel[],
  packageSets: Map<string, string[]>,
  overlayMeta: (name: string) => string[],
): { recipe?: Recipe; problems: Problem[] } {
  const leaf = chain.at(-1)!;
  const merged = chain.map((level) => level.value).reduce((parent, child) => mergeRecipeFiles(parent, child));
  const problems: Problem[] = [];
  const report = (fieldPath: PropertyKey[], message: string, hint?: string) =>
    problems.push({ file: leaf.parsed.file, ...leaf.parsed.document?.locate(fieldPath), path: formatPath(fieldPath), message, hint });

  const required: [PropertyKey[], unknown][] = [
    [['base', 'distro'], merged.base?.distro],
    [['base', 'release'], merged.base?.release],
    [['kernel', 'package'], merged.kernel?.package],
    [['output', 'format'], merged.output?.format],
  ];
  for (const [fieldPath, value] of required) {
    if (value === undefined) {
      report(
        fieldPath,
        `missing required field \`${formatPath(fieldPath)}\``,
        leaf.value.extends === undefined ? undefined : 'set it here or in a parent recipe',
      );
    }
  }

  const release = merged.base?.release;
  const distroName = merged.base?.distro;
  const distro = distroName !== undefined && isDistroName(distroName) ? getDistro(distroName) : undefined;
  if (distro !== undefined && release !== undefined && !distro.releases.includes(release)) {
    report(
      ['base', 'release'],
      `${distro.title} release ${quoted(release)} is not supported`,
      didYouMean(release, distro.releases) ?? `supported: ${distro.releases.join(', ')}`,
    );
  }

  const algorithm = merged.output?.compression?.algorithm ?? 'zstd';
  const level = merged.output?.compression?.level;
  const range = compressionLevels[algorithm];
  if (level !== undefined && range === undefined) {
    report(['output', 'compression', 'level'], `compression \`${algorithm}\` takes no level`, 'remove `level`');
  } else if (level !== undefined && range !== undefined && (level < range.min || level > range.max)) {
    report(['output', 'compression', 'level'], `${algorithm} level must be between ${range.min} and ${range.max}, got ${level}`);
  }
  const format = merged.output?.format;
  if (merged.output?.acceptCapabilityLoss === true && (format === undefined || getFormat(format).keepsCapabilities)) {
    const losing = formatNames.filter((name) => !getFormat(name).keepsCapabilities).join(' or ');
    const keeping = formatNames.filter((name) => getFormat(name).keepsCapabilities).join(', ');
    report(['output', 'acceptCapabilityLoss'], `only meaningful with \`output.format: ${losing}\` (${keeping} keeps file capabilities)`);
  }
  // A planned distro (file-rules.ts says so) gives no recipe.
  if (problems.length > 0 || distroName === undefined || !isDistroName(distroName)) return { problems };

  const kernelPackage = merged.kernel!.package!;
  const recipe: Recipe = {
    name: leaf.value.name,
    description: merged.description,
    chain: chain.map((level) => level.parsed.file).reverse(),
    base: {
      distro: distroName,
      release: merged.base!.release!,
      arch: merged.base!.arch ?? defaults.arch,
      variant: merged.base!.variant ?? getDistro(distroName).variants.default,
      mirror: merged.base!.mirror,
    },
    packages: {
      sets: concatUnique(...chain.map((level) => level.value.packages?.sets)),
      install: installSet(chain, packageSets, kernelPackage),
    },
    overlays: merged.overlays ?? [],
    services: serviceStates(chain),
    users: merged.users ?? [],
    groups: merged.groups ?? [],
    locale: merged.locale,
    timezone: merged.timezone,
    kernel: { package: kernelPackage, cmdline: merged.kernel?.cmdline ?? '', netbootDrivers: merged.kernel?.netbootDrivers ?? [] },
    output: {
      format: merged.output!.format!,
      compression: { algorithm, level: level ?? defaults.compression[algorithm] },
      acceptCapabilityLoss: merged.output?.acceptCapabilityLoss ?? false,
    },
    hooks: merged.hooks ?? [],
    hygiene: { allowPrivateKeys: merged.hygiene?.allowPrivateKeys ?? [] },
    tests: {
      boot: {
        memory: merged.tests?.boot?.memory ?? defaults.boot.memory,
        cpus: merged.tests?.boot?.cpus ?? defaults.boot.cpus,
        timeout: merged.tests?.boot?.timeout ?? defaults.boot.timeout,
        builtinChecks: merged.tests?.boot?.builtinChecks ?? true,
      },
      checks: merged.tests?.checks ?? [],
    },
    sources: [],
  };
  recipe.sources = [
    ...recipe.chain,
    ...recipe.packages.sets.map((name) => path.posix.join('recipes/package-sets', `${name}.yaml`)),
    ...recipe.overlays.flatMap((name) => [`overlays/${name}`, ...overlayMeta(name)]),
    ...recipe.hooks.map((hook) => path.posix.normalize(hook)),
  ].filter((item, index, all) => all.indexOf(item) === index);
  const tooLong = cmdlineSizeProblem(recipe);
  if (tooLong !== undefined) report(['kernel', 'cmdline'], tooLong, cmdlineSizeHint);
  return problems.length > 0 ? { problems } : { recipe, problems };
}

/** Level by level from the root: add the sets and includes, then drop the excludes. */
function installSet(chain: ChainLevel[], packageSets: Map<string, string[]>, kernelPackage: string): string[] {
  const install = new Set<string>();
  for (const { value } of chain) {
    for (const set of value.packages?.sets ?? []) for (const name of packageSets.get(set) ?? []) install.add(name);
    for (const name of value.packages?.include ?? []) install.add(name);
    for (const name of value.packages?.exclude ?? []) install.delete(name);
  }
  install.add(kernelPackage);
  return [...install].sort();
}

/** A child may disable or mask what a parent enabled, and the other way round. */
function serviceStates(chain: ChainLevel[]): Recipe['services'] {
  const state = new Map<string, 'enable' | 'disable' | 'mask'>();
  for (const { value } of chain) {
    for (const kind of ['enable', 'disable', 'mask'] as const) {
      for (const unit of value.services?.[kind] ?? []) state.set(unit, kind);
    }
  }
  const pick = (kind: string) => [...state].filter(([, value]) => value === kind).map(([unit]) => unit);
  return { enable: pick('enable'), disable: pick('disable'), mask: pick('mask') };
}
