import { readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { copyFixtureRepo, fixtureRepo, runCli } from '../helpers/cli.js';

const badDir = path.join(fixtureRepo, 'recipes/bad');
// 16-overlay-symlink-escape names the overlay `escape`, a symlink out of the repository (to
// /etc). A copy of the repository that leaves symlinks out (the mutation-testing sandbox) gets
// it back here.
await symlink('/etc', path.join(fixtureRepo, 'overlays/escape')).catch((error: NodeJS.ErrnoException) => {
  if (error.code !== 'EEXIST') throw error;
});
const corpus = (await readdir(badDir)).filter((name) => name.endsWith('.yaml')).sort();

describe('the bad-recipe corpus', () => {
  it('holds at least 25 cases', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(25);
  });

  it.each(corpus)('%s fails with location, field path, exit code 2 and no stack', async (name) => {
    const result = await runCli(['--repo', fixtureRepo, 'validate', path.join(badDir, name)]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stderr).not.toContain('internal error');
    const problems = result.stderr.split('\n').filter((line) => /^(recipes|overlays)\//.test(line));
    expect(problems.length).toBeGreaterThan(0);
    for (const line of problems) {
      // file[:line:column]: [field.path:] message
      expect(line).toMatch(/^[\w./-]+\.yaml(:\d+:\d+)?: \S/);
    }
    expect(result.stderr).toMatchSnapshot();
  });

  it('refuses a 5 MB recipe before parsing it', async () => {
    const repo = await copyFixtureRepo();
    try {
      const file = path.join(repo.root, 'recipes/huge.yaml');
      await writeFile(file, `name: huge\nextends: base\ndescription: "${'x'.repeat(5 * 1024 * 1024)}"\n`);
      const result = await runCli(['--repo', repo.root, 'validate', file]);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toMatchInlineSnapshot(`
        "recipes/huge.yaml: file is 5.0 MiB; the limit is 1 MiB
            hint: recipes and site configs are short YAML files; check that this is the file you meant
        1 problem(s) in 1 file(s)
        "
      `);
    } finally {
      await repo.remove();
    }
  });

  it('reports every problem of every file in one run', async () => {
    const files = corpus.map((name) => path.join(badDir, name));
    const result = await runCli(['--repo', fixtureRepo, 'validate', ...files]);
    expect(result.exitCode).toBe(2);
    const failedFiles = new Set(result.stderr.split('\n').flatMap((line) => /^recipes\/bad\/([^:]+):/.exec(line)?.[1] ?? []));
    // Every corpus file except those whose problem lives in a file they use (package set, overlay metadata).
    expect(failedFiles.size).toBe(corpus.length - 2);
    expect(result.stderr).toMatch(/\d+ problem\(s\) in \d+ file\(s\)\n$/);
  });

  it('a recipe that names no file reports where it looked', async () => {
    const result = await runCli(['--repo', fixtureRepo, 'validate', 'recipes/nope.yaml'], fixtureRepo);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('recipes/nope.yaml: file not found');
  });
});
