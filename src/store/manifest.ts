import type { HygieneReport } from '../image/hygiene.js';
import type { Recipe } from '../recipe/recipe.js';

export interface Artifact {
  sha256: string;
  size: number;
}

/** manifest.json of an image version (contract in the README). */
export interface Manifest {
  schemaVersion: 1;
  name: string;
  version: string;
  createdAt: string;
  /** Digest of everything the artifacts are built from; equal digests mean equal builds. */
  inputsDigest: string;
  /** Each input file (repository-relative) and its digest: what `diff` compares. */
  inputs: Record<string, string>;
  recipeDigest: string;
  sourceDateEpoch: number;
  git: { commit: string | null; dirty: boolean };
  format: Recipe['output']['format'];
  artifacts: Record<string, Artifact>;
  kernel: { package: string; version: string; cmdline: string };
  packages: { name: string; version: string; arch: string }[];
  executor: 'local' | 'kubernetes';
  /** Milliseconds per stage. */
  durations: Record<string, number>;
  cache: Record<string, 'hit' | 'miss' | 'off'>;
  hygiene: HygieneReport;
  recipe: Recipe;
  pxeforgeVersion: string;
}

export { kernelCmdline, rootfsUrlPlaceholder } from '../recipe/cmdline-size.js';
