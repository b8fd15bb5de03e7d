import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { renderJsonSchema, schemaFiles } from '../../src/recipe/json-schema.js';
import { listRecipeFiles, recipeRepo } from '../../src/recipe/repo.js';
import { projectRoot, runCli } from '../helpers/cli.js';

describe('the example recipes', () => {
  it('validate, with the site config', async () => {
    const result = await runCli(['validate']);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('ok  recipes/base.yaml');
    expect(result.stdout).toContain('ok  recipes/compute.yaml');
    expect(result.stdout).toContain('ok  recipes/tiny.yaml');
    expect(result.stdout).toContain('ok  pxeforge.yaml');
  });

  it('tiny is an initramfs image and compute a squashfs image, each also for arm64', async () => {
    const result = await runCli(['--json', 'validate']);
    const parsed = JSON.parse(result.stdout) as { ok: boolean; recipes: { name: string; format: string }[] };
    expect(parsed.ok).toBe(true);
    expect(Object.fromEntries(parsed.recipes.map((r) => [r.name, r.format]))).toEqual({
      base: 'squashfs',
      compute: 'squashfs',
      'compute-arm64': 'squashfs',
      tiny: 'initramfs',
      'tiny-arm64': 'initramfs',
    });
  });

  it('carry the yaml-language-server schema line', async () => {
    for (const file of await listRecipeFiles(recipeRepo(projectRoot))) {
      const text = await readFile(file, 'utf8');
      expect(text.split('\n')[0], file).toBe('# yaml-language-server: $schema=recipe.schema.json');
    }
  });
});

describe('the committed JSON Schemas', () => {
  it.each(Object.entries(schemaFiles))('%s is what `pxeforge schema` generates', async (file, schema) => {
    const committed = await readFile(path.join(projectRoot, file), 'utf8');
    expect(committed, `${file} is stale: run \`pxeforge schema\``).toBe(renderJsonSchema(schema, path.basename(file)));
  });

  it('schema --check agrees', async () => {
    const result = await runCli(['schema', '--check']);
    expect(result.stdout).toBe('schemas are up to date\n');
    expect(result.exitCode).toBe(0);
  });
});
