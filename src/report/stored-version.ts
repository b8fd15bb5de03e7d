import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { z } from 'zod';

import { bootPhases } from '../boot-test/console-watch.js';
import { checkRecordText } from '../store/record.js';

/**
 * The parts of a version's manifest.json and test-report.json the report shows, read
 * leniently: a field an older pxeforge did not write is shown as unknown, never fatal, and a
 * file that does not parse becomes a problem shown beside the version.
 */
const artifactSchema = z.object({ sha256: z.string(), size: z.number().nonnegative() });

export const storedManifestSchema = z.object({
  version: z.string(),
  createdAt: z.string().optional(),
  format: z.string().optional(),
  artifacts: z.record(z.string(), artifactSchema).default({}),
  inputs: z.record(z.string(), z.string()).default({}),
  packages: z.array(z.object({ name: z.string(), version: z.string(), arch: z.string() })).optional(),
  kernel: z.object({ package: z.string().default(''), version: z.string(), cmdline: z.string().default('') }).optional(),
  git: z.object({ commit: z.string().nullable(), dirty: z.boolean() }).optional(),
});
export type StoredManifest = z.infer<typeof storedManifestSchema>;

export const storedTestReportSchema = z.object({
  passed: z.boolean(),
  via: z.string(),
  startedAt: z.string(),
  durationMs: z.number(),
  artifacts: z.record(z.string(), artifactSchema).default({}),
  phases: z.partialRecord(z.enum(bootPhases), z.number()).default({}),
  checks: z.array(z.object({ passed: z.boolean() })).default([]),
});
export type StoredTestReport = z.infer<typeof storedTestReportSchema>;

export interface StoredVersion {
  version: string;
  manifest: StoredManifest | undefined;
  test: StoredTestReport | undefined;
  problem: string | undefined;
}

/** Reads one version directory; never throws for what is in the files. */
export async function readStoredVersion(dir: string, version: string): Promise<StoredVersion> {
  const manifest = await readJson(path.join(dir, 'manifest.json'), storedManifestSchema);
  const test = await readJson(path.join(dir, 'test-report.json'), storedTestReportSchema);
  const problems = [manifest.problem, test.problem].filter((p): p is string => p !== undefined);
  return { version, manifest: manifest.value, test: test.value, problem: problems.length === 0 ? undefined : problems.join('; ') };
}

async function readJson<T>(file: string, schema: z.ZodType<T>): Promise<{ value?: T; problem?: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' && path.basename(file) === 'test-report.json'
      ? {}
      : { problem: `${path.basename(file)} cannot be read (${code ?? 'error'})` };
  }
  const checked = checkRecordText(text, schema);
  if ('value' in checked) return checked;
  return {
    problem:
      checked.problem === 'not valid JSON' ? `${path.basename(file)} is not valid JSON` : `${path.basename(file)}: ${checked.problem}`,
  };
}
