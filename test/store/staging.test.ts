import { execa } from 'execa';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { imageDir, stageVersion } from '../../src/store/store.js';

let store: string;
beforeEach(async () => {
  store = await mkdtemp(path.join(tmpdir(), 'pxeforge-staging-'));
});
afterEach(async () => {
  await rm(store, { recursive: true, force: true });
});

const clock = (iso: string) => () => new Date(iso);
const names = async () => (await readdir(imageDir(store, 'tiny'))).sort();
const lockfileModule = createRequire(import.meta.url).resolve('proper-lockfile');

/** What a build killed outright leaves: its staging directory and a lock nobody refreshes any more. */
async function abandoned(version: string): Promise<void> {
  const staged = path.join(imageDir(store, 'tiny'), `.incoming-${version}`);
  await mkdir(staged, { recursive: true });
  await writeFile(path.join(staged, 'initrd.img'), 'half written');
  await mkdir(`${staged}.lock`);
  const old = new Date(Date.now() - 120_000);
  await utimes(`${staged}.lock`, old, old);
}

describe('staging a version', () => {
  it('publishes under the version name and leaves no staging directory or lock', async () => {
    const staging = await stageVersion(store, 'tiny', 'ab'.repeat(32), clock('2026-11-26T10:00:00Z'));
    await writeFile(path.join(staging.staged, 'initrd.img'), 'x');
    expect(await names()).toEqual([`.incoming-${staging.version}`, `.incoming-${staging.version}.lock`]);
    await staging.publish();
    expect(await names()).toEqual([staging.version]);
  });

  it('a failed build discards what it staged, lock included', async () => {
    const staging = await stageVersion(store, 'tiny', 'ab'.repeat(32), clock('2026-11-26T10:00:00Z'));
    await staging.discard();
    expect(await names()).toEqual([]);
  });

  it('the next build removes what a killed build staged', async () => {
    await abandoned('20261126T090000Z-abababab');
    // Also without a lock at all (killed between its lock going stale and anything else).
    await mkdir(path.join(imageDir(store, 'tiny'), '.incoming-20261126T080000Z-abababab'));
    const staging = await stageVersion(store, 'tiny', 'ab'.repeat(32), clock('2026-11-26T10:00:00Z'));
    expect(await names()).toEqual([`.incoming-${staging.version}`, `.incoming-${staging.version}.lock`]);
    await staging.discard();
  });

  it("keeps another live build's staging directory, and waits for the next second rather than take its name", async () => {
    const version = '20261126T100000Z-abababab';
    const staged = path.join(imageDir(store, 'tiny'), `.incoming-${version}`);
    await mkdir(staged, { recursive: true });
    // A live build in another process: it holds (and refreshes) the lock on its staging directory.
    const holder = execa(
      process.execPath,
      [
        '-e',
        `const lockfile = require(${JSON.stringify(lockfileModule)});
         lockfile.lock(${JSON.stringify(staged)}, { realpath: false, stale: 30000, update: 5000 })
           .then(() => { console.log('locked'); setTimeout(() => {}, 60000); });`,
      ],
      { buffer: false },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout!.on('data', (data: Buffer) => {
          if (data.toString().includes('locked')) resolve();
        });
        holder.catch(reject);
      });
      let second = 0;
      const staging = await stageVersion(
        store,
        'tiny',
        'ab'.repeat(32),
        () => new Date(Date.parse('2026-11-26T10:00:00Z') + 1000 * second++),
      );
      expect(staging.version).toBe('20261126T100001Z-abababab');
      expect(await names()).toContain(`.incoming-${version}`);
      await staging.discard();
    } finally {
      holder.kill();
      await holder.catch(() => undefined);
    }
  });
});
