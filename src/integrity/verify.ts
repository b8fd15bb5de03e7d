import path from 'node:path';

import { fileSha256 } from './digest.js';

/** What a check of a file against its recorded digest found. */
export type FileCheck = 'ok' | 'missing' | 'different';

/** A file that is not as its record says: absent (or unreadable), or with another sha256. */
export interface Mismatch {
  name: string;
  problem: Exclude<FileCheck, 'ok'>;
}

/** One file against the sha256 recorded for it. */
export async function checkFile(file: string, sha256: string): Promise<FileCheck> {
  const actual = await fileSha256(file).catch(() => undefined);
  if (actual === undefined) return 'missing';
  return actual === sha256 ? 'ok' : 'different';
}

/**
 * The artifacts of a version (name → recorded sha256, as in its manifest) that the files in
 * `dir` do not match, in the manifest's order. Empty: every artifact is there, byte for byte.
 * The boot test, promotion and the executors ask this before they use a version.
 */
export async function verifyVersion(dir: string, artifacts: Record<string, { sha256: string }>): Promise<Mismatch[]> {
  const mismatches: Mismatch[] = [];
  for (const [name, artifact] of Object.entries(artifacts)) {
    const problem = await checkFile(path.join(dir, name), artifact.sha256);
    if (problem !== 'ok') mismatches.push({ name, problem });
  }
  return mismatches;
}
