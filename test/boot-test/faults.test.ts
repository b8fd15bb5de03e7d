import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { serveArtifacts } from '../../src/boot-test/artifact-server.js';
import { testImage } from '../../src/boot-test/boot-test.js';
import { sha256 } from '../../src/integrity/digest.js';
import type { UserError } from '../../src/errors/user-error.js';
import { manifestRecord } from '../helpers/records.js';

let store: string;
const events: string[] = [];
const emit = (event: { type: string }) => void events.push(event.type);

/** The temp dirs of this file's boot tests, which get a TMPDIR of their own. */
async function bootTempDirs(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((name) => name.startsWith('pxeforge-boot-'));
}

const savedTmp = process.env.TMPDIR;
beforeEach(async () => {
  store = await mkdtemp(path.join(tmpdir(), 'pxeforge-store-'));
  await mkdir(path.join(store, 'tmp'));
  process.env.TMPDIR = path.join(store, 'tmp');
  const dir = path.join(store, 'images/tiny/20260101T000000Z-00000000');
  await mkdir(dir, { recursive: true });
  const files = { vmlinuz: 'kernel bytes', 'initrd.img': 'initrd bytes' };
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content);
  const artifacts = Object.fromEntries(
    Object.entries(files).map(([name, content]) => [name, { sha256: sha256(content), size: content.length }]),
  );
  const manifest = manifestRecord({ name: 'tiny', version: '20260101T000000Z-00000000', artifacts });
  manifest.recipe.tests.boot = { memory: 256, cpus: 1, timeout: 10, builtinChecks: true };
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
});
afterEach(async () => {
  if (savedTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmp;
  await rm(store, { recursive: true, force: true });
});

describe('boot test faults that need no VM', () => {
  it('a version that does not exist', async () => {
    const before = await bootTempDirs();
    const error = (await testImage({ store, image: 'tiny@nope', via: 'direct', emit, signal: new AbortController().signal }).catch(
      (e: unknown) => e,
    )) as UserError;
    expect(error.code).toBe('NO_SUCH_VERSION');
    expect(error.exitCode).toBe(2);
    expect(await bootTempDirs()).toEqual(before);
  });

  it('a tampered artifact is refused before anything boots', async () => {
    const before = await bootTempDirs();
    const file = path.join(store, 'images/tiny/20260101T000000Z-00000000/initrd.img');
    await chmod(file, 0o644);
    await writeFile(file, 'changed after the build');
    const error = (await testImage({ store, image: 'tiny', via: 'direct', emit, signal: new AbortController().signal }).catch(
      (e: unknown) => e,
    )) as UserError;
    expect(error.code).toBe('ARTIFACT_TAMPERED');
    expect(error.message).toBe('tiny@20260101T000000Z-00000000: initrd.img does not match its manifest digest');
    expect(await bootTempDirs()).toEqual(before);
  });

  it('QEMU missing: a doctor hint, no server left, no temp dir', async () => {
    const before = await bootTempDirs();
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const error = (await testImage({ store, image: 'tiny', via: 'direct', emit, signal: new AbortController().signal }).catch(
        (e: unknown) => e,
      )) as UserError;
      expect(error.code).toBe('TOOL_MISSING');
      expect(error.hint).toMatch(/pxeforge doctor/);
    } finally {
      process.env.PATH = saved;
    }
    expect(await bootTempDirs()).toEqual(before);
  });
});

describe('the artifact server', () => {
  it('serves only the named files, answers Range requests and records what was fetched', async () => {
    const file = path.join(store, 'images/tiny/20260101T000000Z-00000000/vmlinuz');
    const server = await serveArtifacts({ '/vmlinuz': file }, () => {});
    try {
      const whole = await fetch(`${server.url}/vmlinuz`);
      expect(await whole.text()).toBe('kernel bytes');
      const part = await fetch(`${server.url}/vmlinuz`, { headers: { Range: 'bytes=7-11' } });
      expect(part.status).toBe(206);
      expect(await part.text()).toBe('bytes');
      expect((await fetch(`${server.url}/manifest.json`)).status).toBe(404);
      expect((await fetch(`${server.url}/../../etc/passwd`)).status).toBe(404);
      expect(server.fetched.map((f) => [f.path, f.range, f.status])).toEqual([
        ['/vmlinuz', undefined, 200],
        ['/vmlinuz', 'bytes=7-11', 206],
        ['/manifest.json', undefined, 404],
        ['/etc/passwd', undefined, 404],
      ]);
    } finally {
      await server.close();
    }
    await expect(fetch(`${server.url}/vmlinuz`)).rejects.toThrow();
  });
});
