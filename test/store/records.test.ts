import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { readTestReport } from '../../src/boot-test/report.js';
import type { UserError } from '../../src/errors/user-error.js';
import { recipeSnapshot } from '../../src/image/write-manifest.js';
import { readCurrent, treePaths } from '../../src/promote/tree.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { recipeRepo } from '../../src/recipe/repo.js';
import { manifestRecord as manifestKind } from '../../src/store/manifest-schema.js';
import { parseRecord } from '../../src/store/record.js';
import { readManifest } from '../../src/store/store.js';
import { fixtureRepo } from '../helpers/cli.js';
import { manifestRecord, testReportRecord } from '../helpers/records.js';
import { makeVersion } from '../helpers/tree-site.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-records-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const artifacts = { vmlinuz: { sha256: 'a'.repeat(64), size: 1 } };
const refused = async (read: Promise<unknown>) =>
  (await read.then(
    () => undefined,
    (error: unknown) => error,
  )) as UserError;

async function edit(file: string, change: (record: Record<string, unknown>) => void): Promise<void> {
  const record = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  change(record);
  await writeFile(file, JSON.stringify(record));
}

describe('manifest.json', () => {
  it('a manifest written for a store reads unchanged', async () => {
    const version = await makeVersion(dir, 'tiny', 'v1', { tested: 'passed' });
    const versionDir = path.join(dir, 'images/tiny', version);
    const written = JSON.parse(await readFile(path.join(versionDir, 'manifest.json'), 'utf8')) as unknown;
    expect(await readManifest(versionDir)).toEqual(written);
  });

  it('a version-1 manifest holding the whole recipe reads, and keeps every recipe field', async () => {
    const recipe = await loadRecipe(recipeRepo(fixtureRepo), path.join(fixtureRepo, 'recipes/child.yaml'));
    const old = { ...manifestRecord({ name: 'child', version: 'v1', artifacts }), recipe: JSON.parse(JSON.stringify(recipe)) as unknown };
    await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(old));
    const read = await readManifest(dir);
    expect(read).toEqual(old);
    expect(read.recipe.tests.boot).toEqual(recipe.tests.boot);
    expect(read.recipe.base?.arch).toBe(recipe.base.arch);
  });

  it('the recipe snapshot holds the fields readers use, and reads back as written', async () => {
    const recipe = await loadRecipe(recipeRepo(fixtureRepo), path.join(fixtureRepo, 'recipes/child.yaml'));
    const snapshot = recipeSnapshot(recipe);
    expect(Object.keys(snapshot).sort()).toEqual(['base', 'output', 'packages', 'schemaVersion', 'tests']);
    expect(snapshot).toMatchObject({
      schemaVersion: 1,
      base: { arch: recipe.base.arch },
      packages: { install: recipe.packages.install },
      output: { format: recipe.output.format },
      tests: recipe.tests,
    });
    const manifest = manifestRecord({ name: 'child', version: 'v1', artifacts, recipe: snapshot });
    expect(parseRecord('manifest.json', JSON.stringify(manifest), manifestKind)).toEqual(manifest);
  });

  it('damaged: not JSON, or a field of the wrong shape, names the file and the field', async () => {
    const file = path.join(dir, 'manifest.json');
    await writeFile(file, '{"schemaVersion": 1,');
    let error = await refused(readManifest(dir));
    expect(error.code).toBe('DAMAGED_RECORD');
    expect(error.message).toBe(`${file} is not valid JSON`);
    expect(error.hint).toBeDefined();

    await writeFile(file, JSON.stringify(manifestRecord({ name: 'tiny', version: 'v1', artifacts })));
    await edit(file, (m) => {
      (m.artifacts as Record<string, { sha256: string }>).vmlinuz!.sha256 = 'not a digest';
    });
    error = await refused(readManifest(dir));
    expect(error.code).toBe('DAMAGED_RECORD');
    expect(error.message).toContain(file);
    expect(error.message).toContain('artifacts.vmlinuz.sha256');

    await edit(file, (m) => {
      (m.artifacts as Record<string, { sha256: string }>).vmlinuz!.sha256 = 'a'.repeat(64);
      delete (m.recipe as Record<string, unknown>).tests;
    });
    expect((await refused(readManifest(dir))).message).toContain('recipe.tests');
  });

  it('a newer schemaVersion, of the manifest or of its recipe snapshot, is refused as such', async () => {
    const file = path.join(dir, 'manifest.json');
    await writeFile(file, JSON.stringify({ ...manifestRecord({ name: 'tiny', version: 'v1', artifacts }), schemaVersion: 2 }));
    let error = await refused(readManifest(dir));
    expect(error.code).toBe('UNSUPPORTED_SCHEMA_VERSION');
    expect(error.message).toContain(file);
    expect(error.message).toContain('reads schemaVersion 1');
    expect(error.message).toContain('a newer pxeforge wrote it');

    await edit(file, (m) => {
      m.schemaVersion = 1;
      (m.recipe as Record<string, unknown>).schemaVersion = 2;
    });
    error = await refused(readManifest(dir));
    expect(error.code).toBe('UNSUPPORTED_SCHEMA_VERSION');
    expect(error.message).toContain('field recipe');
  });
});

describe('test-report.json', () => {
  it('a report written by a boot test reads; no report is undefined', async () => {
    expect(await readTestReport(dir)).toBeUndefined();
    const report = testReportRecord({ name: 'tiny', version: 'v1', artifacts, hostKey: 'ssh-ed25519 AAAA' });
    await writeFile(path.join(dir, 'test-report.json'), JSON.stringify(report));
    expect(await readTestReport(dir)).toEqual(report);
  });

  it('damaged and newer reports give clear errors', async () => {
    const file = path.join(dir, 'test-report.json');
    await writeFile(file, JSON.stringify({ ...testReportRecord({ name: 'tiny', version: 'v1' }), via: 'carrier pigeon' }));
    let error = await refused(readTestReport(dir));
    expect(error.code).toBe('DAMAGED_RECORD');
    expect(error.message).toContain(`${file} is not a test report: via:`);

    await writeFile(file, JSON.stringify({ ...testReportRecord({ name: 'tiny', version: 'v1' }), schemaVersion: 7 }));
    error = await refused(readTestReport(dir));
    expect(error.code).toBe('UNSUPPORTED_SCHEMA_VERSION');
    expect(error.message).toContain('schemaVersion 7');
  });
});

describe('state.json', () => {
  const state = {
    schemaVersion: 1,
    generation: 1,
    createdAt: '2026-01-01T00:00:00Z',
    channels: {},
    change: {
      generation: 1,
      at: '2026-01-01T00:00:00Z',
      user: 'admin',
      host: 'admin1',
      action: 'refresh',
      channel: null,
      image: null,
      from: null,
      to: null,
      reason: null,
      forced: false,
      allowDirty: false,
      commit: null,
      dirty: false,
      testReport: null,
    },
    groups: [],
    files: {},
    entries: {},
  };

  async function tree(content: string) {
    const paths = treePaths(dir);
    await mkdir(path.join(paths.generations, '1'), { recursive: true });
    await writeFile(path.join(paths.generations, '1', 'state.json'), content);
    await symlink('generations/1', paths.current);
    return paths;
  }

  it('a good state reads', async () => {
    const paths = await tree(JSON.stringify(state));
    expect((await readCurrent(paths))?.state).toEqual(state);
  });

  it('a damaged state is a damaged tree, named with its field', async () => {
    const paths = await tree(JSON.stringify({ ...state, files: { 'pxeforge/x': { sha256: 'x', size: 1 } } }));
    const error = await refused(readCurrent(paths));
    expect(error.code).toBe('TREE_DAMAGED');
    expect(error.message).toContain(path.join(paths.generations, '1', 'state.json'));
    expect(error.message).toContain('files.pxeforge/x.sha256');
  });

  it('a state written by a newer pxeforge is refused as such', async () => {
    const paths = await tree(JSON.stringify({ ...state, schemaVersion: 2 }));
    const error = await refused(readCurrent(paths));
    expect(error.code).toBe('UNSUPPORTED_SCHEMA_VERSION');
    expect(error.message).toContain('a newer pxeforge wrote it');
  });
});
