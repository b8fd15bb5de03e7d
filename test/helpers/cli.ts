import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';

import { main } from '../../src/cli/main.js';

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
export const fixtureRepo = path.join(projectRoot, 'test/fixtures/repo');
export const pxeforgeBin = path.join(projectRoot, 'bin/pxeforge.js');

export interface CliRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process with captured output (fast; the real binary is tested in cli.test.ts). */
export async function runCli(argv: string[], cwd = projectRoot): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  stdout.on('data', (chunk: Buffer) => chunks.stdout.push(chunk));
  stderr.on('data', (chunk: Buffer) => chunks.stderr.push(chunk));
  const exitCode = await main(argv, { stdout, stderr, cwd, signal: new AbortController().signal });
  return { exitCode, stdout: Buffer.concat(chunks.stdout).toString(), stderr: Buffer.concat(chunks.stderr).toString() };
}

/** A private copy of the fixture repository, removed by the returned function. */
export async function copyFixtureRepo(): Promise<{ root: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-test-'));
  const root = path.join(dir, 'repo');
  await cp(fixtureRepo, root, { recursive: true, verbatimSymlinks: true });
  return { root, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Writes `text` as the repository's pxeforge.yaml and runs `validate` on one recipe of the fixture. */
export async function validateSiteText(root: string, text: string): Promise<CliRun> {
  await writeFile(path.join(root, 'pxeforge.yaml'), text);
  return runCli(['--repo', root, 'validate', path.join(root, 'recipes/base.yaml')]);
}
