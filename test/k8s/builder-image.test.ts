import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { hostTools } from '../../src/doctor/host-tools.js';
import { projectRoot } from '../helpers/cli.js';

/**
 * The builder image has one package list (deploy/builder-packages) for its two recipes: the
 * Containerfile (sites with a registry) and scripts/builder-image (made here with mmdebstrap).
 */
const read = (file: string) => readFile(path.join(projectRoot, file), 'utf8');

/** The list as scripts/builder-image reads it: `#` starts a comment, blank lines are skipped. */
async function builderPackages(): Promise<string[]> {
  return (await read('deploy/builder-packages'))
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line !== '');
}

/** The instructions of the Containerfile's last stage, continuation lines joined. */
async function finalStage(): Promise<string[]> {
  const instructions = (await read('deploy/Containerfile'))
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const from = instructions.findLastIndex((line) => line.startsWith('FROM '));
  return instructions.slice(from);
}

describe('deploy/builder-packages', () => {
  it('is a list of distinct Debian package names with Node.js in it', async () => {
    const packages = await builderPackages();
    for (const name of packages) expect(name).toMatch(/^[a-z0-9][a-z0-9+.-]+$/);
    expect(new Set(packages).size).toBe(packages.length);
    expect(packages).toContain('nodejs');
  });

  it('covers every package `pxeforge doctor` checks', async () => {
    const packages = new Set(await builderPackages());
    const missing = [...new Set(hostTools.map((tool) => tool.package))].filter((name) => !packages.has(name));
    expect(missing).toEqual([]);
  });

  it('is exactly what the Containerfile installs in the image', async () => {
    const stage = await finalStage();
    const copy = stage.find((line) => line.startsWith('COPY ') && line.includes('deploy/builder-packages'));
    expect(copy).toBeDefined();
    const destination = copy!.split(/\s+/).at(-1)!;
    const installs = stage.filter((line) => line.includes('apt-get install'));
    expect(installs).toHaveLength(1);
    // The packages come from the copied list, and from nowhere else: only options follow `apt-get install`.
    expect(installs[0]).toContain(destination);
    const words = installs[0]!.split('apt-get install')[1]!.split('&&')[0]!.trim().split(/\s+/);
    expect(words.every((word) => word.startsWith('-'))).toBe(true);
  });

  it('is what scripts/builder-image installs, from the Debian release the Containerfile uses', async () => {
    const script = await read('scripts/builder-image');
    expect(script).toContain('done <deploy/builder-packages');
    const release = /^release=(\S+)$/m.exec(script)?.[1];
    expect(release).toBeDefined();
    const containerfile = await read('deploy/Containerfile');
    expect(/^ARG DEBIAN_RELEASE=(\S+)$/m.exec(containerfile)?.[1]).toBe(release);
    const froms = containerfile.split('\n').filter((line) => line.startsWith('FROM '));
    expect(froms.length).toBeGreaterThan(0);
    for (const from of froms) expect(from).toMatch(/^FROM \S+:\$\{DEBIAN_RELEASE\}-slim\b/);
  });
});
