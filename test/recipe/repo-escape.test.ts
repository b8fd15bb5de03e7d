import { rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { copyFixtureRepo, runCli } from '../helpers/cli.js';

/** A file outside the repository (beside it, in this test's temp dir) that validate must never print. */
const secret = 'root:$y$j9T$SECRETHASH:19000:0:99999:7:::\nsecret_token: hunter2\n';

let repo: { root: string; remove(): Promise<void> };
let outside: string;
beforeEach(async () => {
  repo = await copyFixtureRepo();
  outside = path.join(repo.root, '..', 'outside.yaml');
  await writeFile(outside, secret);
});
afterEach(async () => {
  await repo.remove();
});

async function replaceWithLink(file: string): Promise<void> {
  await rm(path.join(repo.root, file), { force: true });
  await symlink(outside, path.join(repo.root, file));
}

const validate = (...files: string[]) => runCli(['--repo', repo.root, 'validate', ...files.map((file) => path.join(repo.root, file))]);

function expectNoSecret(stderr: string): void {
  expect(stderr).not.toContain('SECRETHASH');
  expect(stderr).not.toContain('hunter2');
  expect(stderr).not.toContain('secret_token');
}

describe('files read because of the repository stay inside it', () => {
  it('overlay metadata linked out of the repository is refused by path, never printed', async () => {
    await replaceWithLink('overlays/common.yaml');
    const result = await validate('recipes/base.yaml');
    expect(result.exitCode).toBe(2);
    expectNoSecret(result.stderr);
    expect(result.stderr).toContain('overlays/common.yaml: is a symlink that leads outside the repository');
  });

  it.each(['recipes/base.yaml', 'recipes/child.yaml'])('a recipe or parent linked out (%s) is refused by path', async (file) => {
    await replaceWithLink('recipes/base.yaml');
    const result = await validate(file);
    expect(result.exitCode).toBe(2);
    expectNoSecret(result.stderr);
    expect(result.stderr).toContain('recipes/base.yaml: is a symlink that leads outside the repository');
  });

  it('a package set linked out is refused by path', async () => {
    await replaceWithLink('recipes/package-sets/core.yaml');
    const result = await validate('recipes/base.yaml');
    expect(result.exitCode).toBe(2);
    expectNoSecret(result.stderr);
    expect(result.stderr).toContain('recipes/package-sets/core.yaml: is a symlink that leads outside the repository');
  });

  it('validating every recipe reports a linked-out recipe instead of skipping it', async () => {
    await symlink(outside, path.join(repo.root, 'recipes/zz-linked.yaml'));
    const result = await runCli(['--repo', repo.root, 'validate']);
    expectNoSecret(result.stderr);
    expect(result.stderr).toContain('recipes/zz-linked.yaml: is a symlink that leads outside the repository');
  });

  it('a problem quotes at most a short, truncated key', async () => {
    const key = `k${'x'.repeat(200)}`;
    await writeFile(
      path.join(repo.root, 'recipes/long.yaml'),
      `name: long\nextends: base\n${key}: 1\ndescription: [1]\nbase: { release: "${'r'.repeat(200)}" }\n`,
    );
    const result = await validate('recipes/long.yaml');
    expect(result.exitCode).toBe(2);
    const lines = result.stderr.split('\n').filter((line) => line.startsWith('recipes/long.yaml'));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) expect(line).not.toMatch(/[xr]{41}/);
    expect(result.stderr).toContain(`unknown key \`k${'x'.repeat(38)}…\``);
  });
});
