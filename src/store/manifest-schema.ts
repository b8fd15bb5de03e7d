import { z } from 'zod';

import { archNames } from '../arches/registry.js';
import { formatNames } from '../formats/registry.js';

/**
 * manifest.json of an image version (contract in docs/building.md), as pxeforge reads it back. The
 * types of the store derive from these schemas; `readManifest` checks every file against them.
 */
export const manifestSchemaVersion = 1;

/** The schemaVersion of the recipe snapshot a manifest holds (its own: the recipe model can change apart from it). */
export const recipeSnapshotSchemaVersion = 1;

export const artifactSchema = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/, { error: 'is not a sha256 digest' }),
  size: z.int().nonnegative(),
});
export type Artifact = z.infer<typeof artifactSchema>;

export const outputFormatSchema = z.enum(formatNames);

const checkSnapshot = z.object({
  name: z.string(),
  run: z.string(),
  expect: z.string().optional(),
  match: z.string().optional(),
  exit: z.int().optional(),
  timeout: z.int().optional(),
});

/**
 * What the manifest keeps of the resolved recipe: the fields readers of a version use (the
 * boot test: its settings, checks and format; the architecture; the install list, which
 * `--locked` pins). Loose: manifests written
 * before the snapshot had a version of its own hold the whole recipe, and read as version 1.
 */
export const recipeSnapshotSchema = z.looseObject({
  /** Absent in manifests that held the whole recipe (read as version 1). */
  schemaVersion: z.literal(recipeSnapshotSchemaVersion).optional(),
  /** `base.arch` absent: the default architecture (see manifestArch). `distro` and `release`: what the root was bootstrapped from. */
  base: z.looseObject({ distro: z.string().optional(), release: z.string().optional(), arch: z.enum(archNames).optional() }).optional(),
  packages: z.looseObject({ install: z.array(z.string()) }),
  output: z.looseObject({ format: outputFormatSchema }),
  tests: z.looseObject({
    boot: z.looseObject({ memory: z.int().positive(), cpus: z.int().positive(), timeout: z.int().positive(), builtinChecks: z.boolean() }),
    checks: z.array(checkSnapshot),
  }),
});
export type RecipeSnapshot = z.infer<typeof recipeSnapshotSchema>;

const hygieneSchema = z.object({
  removed: z.array(z.string()),
  sshHostKeys: z.string(),
  sshKeysAtBoot: z.string(),
  machineId: z.string(),
  privateKeys: z.object({ allowed: z.array(z.string()) }),
  /** Absent in manifests written before hygiene reset /etc/resolv.conf. */
  resolvConf: z.string().optional(),
});

export const manifestSchema = z.object({
  schemaVersion: z.literal(manifestSchemaVersion),
  name: z.string().min(1),
  version: z.string().min(1),
  createdAt: z.string(),
  /** Digest of everything the artifacts are built from; equal digests mean equal builds. */
  inputsDigest: z.string(),
  /** Each input file (repository-relative) and its digest: what `diff` compares. */
  inputs: z.record(z.string(), z.string()),
  recipeDigest: z.string(),
  sourceDateEpoch: z.number(),
  git: z.object({ commit: z.string().nullable(), dirty: z.boolean() }),
  format: outputFormatSchema,
  artifacts: z.record(z.string(), artifactSchema),
  kernel: z.object({ package: z.string(), version: z.string(), cmdline: z.string() }),
  packages: z.array(z.object({ name: z.string(), version: z.string(), arch: z.string() })),
  executor: z.string(),
  /** Milliseconds per stage. */
  durations: z.record(z.string(), z.number()),
  cache: z.record(z.string(), z.enum(['hit', 'miss', 'off'])),
  hygiene: hygieneSchema,
  recipe: recipeSnapshotSchema,
  pxeforgeVersion: z.string(),
  /**
   * The image's users and groups (name → id, from its /etc/passwd and /etc/group): node files
   * name owners, their archives carry ids. Absent in manifests written before node files.
   */
  accounts: z
    .object({ users: z.record(z.string(), z.int().nonnegative()), groups: z.record(z.string(), z.int().nonnegative()) })
    .optional(),
  /**
   * The program in the image that moves a node's archive into place at boot (`apply-node-files`).
   * Absent in manifests of images built before node files: such images ignore a node's archive.
   */
  nodeFiles: z.object({ program: z.string() }).optional(),
  /**
   * The program and unit in the image that write /run/pxeforge/boot.json at boot (docs/fleet.md).
   * Absent in manifests of images built before boot records.
   */
  bootRecord: z.object({ program: z.string(), unit: z.string() }).optional(),
});
export type Manifest = z.infer<typeof manifestSchema>;

export const manifestRecord = {
  what: 'manifest',
  schema: manifestSchema,
  schemaVersion: manifestSchemaVersion,
  parts: { recipe: recipeSnapshotSchemaVersion },
};
