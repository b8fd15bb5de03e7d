import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { runCheck } from '../../src/boot-test/checks.js';
import type { SshSession } from '../../src/boot-test/ssh.js';
import { loadRecipes } from '../../src/recipe/load.js';
import { compileCheckPattern } from '../../src/recipe/check-pattern.js';
import { recipeRepo } from '../../src/recipe/repo.js';
import { copyFixtureRepo, runCli } from '../helpers/cli.js';

let repo: { root: string; remove(): Promise<void> };
beforeEach(async () => {
  repo = await copyFixtureRepo();
});
afterEach(async () => {
  await repo.remove();
});

async function validate(name: string, text: string) {
  const file = path.join(repo.root, 'recipes', `${name}.yaml`);
  await writeFile(file, text);
  return runCli(['--repo', repo.root, 'validate', file]);
}

const session = (stdout: string): SshSession => ({
  hostKey: 'SHA256:x',
  exec: async () => ({ stdout, stderr: '', exitCode: 0, timedOut: false }),
  close: () => {},
});

describe('check patterns run on a linear-time engine', () => {
  it("^(a+)+$ against 30 a's and a b answers at once in a boot check", async () => {
    const started = performance.now();
    const result = await runCheck(session(`${'a'.repeat(30)}b`), { name: 'c', run: 'x', match: '^(a+)+$' });
    expect(result).toMatchObject({ passed: false, reason: expect.stringContaining('does not match') });
    expect(performance.now() - started).toBeLessThan(1000);
  }, 60_000);

  it('runs over 10,000 characters, multi-line like before', () => {
    const pattern = compileCheckPattern('^(a+)+$');
    expect(pattern.test(`${'a'.repeat(10_000)}b`)).toBe(false);
    expect(pattern.test('a'.repeat(10_000))).toBe(true);
    expect(compileCheckPattern('^active$').test('inactive\nactive\n')).toBe(true);
  });

  it('validate refuses a pattern RE2 cannot run (backreference, lookahead), at the match field', async () => {
    const result = await validate(
      're',
      'name: re\nextends: base\ntests:\n  checks:\n    - { name: a, run: "true", match: "(a)\\\\1" }\n    - { name: b, run: "true", match: "x(?=y)" }\n',
    );
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('recipes/re.yaml:5:38: tests.checks[0].match: ');
    expect(result.stderr).toContain('recipes/re.yaml:6:38: tests.checks[1].match: ');
    expect(result.stderr).toContain('not a valid RE2 pattern');
  });
});

describe('recipe values a boot or the build host would take badly', () => {
  it.each(['/etc/shadow', '../../etc/shadow', 'Europe/../../etc/shadow', 'Europe//Berlin', 'Europe/Berlin/'])(
    'timezone %s is refused',
    async (zone) => {
      const result = await validate('tz', `name: tz\nextends: base\ntimezone: "${zone}"\n`);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toContain('recipes/tz.yaml:3:11: timezone: is not a timezone name');
    },
  );

  it.each(['Europe/Berlin', 'Etc/GMT+5', 'UTC', 'America/Argentina/Buenos_Aires', 'America/Port-au-Prince'])(
    'timezone %s is a zone name',
    async (zone) => {
      const result = await validate('tz', `name: tz\nextends: base\ntimezone: "${zone}"\n`);
      expect(result.stderr).toBe('');
    },
  );

  it('a kernel command line beyond 2,048 bytes (with what pxeforge adds) is refused with its size', async () => {
    const params = Array.from({ length: 3000 }, (_, i) => `p${i}=1`).join(' ');
    const result = await validate('long', `name: long\nextends: base\nkernel: { cmdline: "${params}" }\n`);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/recipes\/long\.yaml:3:\d+: kernel\.cmdline: the kernel command line is \d{1,3}(,\d{3})* bytes/);
    expect(result.stderr).toContain('2,048');
    const fits = Array.from({ length: 100 }, (_, i) => `p${i}=1`).join(' ');
    expect((await validate('long', `name: long\nextends: base\nkernel: { cmdline: "${fits}" }\n`)).stderr).toBe('');
  });

  it('an extends chain deeper than 16 is refused, naming the chain', async () => {
    for (let i = 1; i <= 20; i += 1) {
      await writeFile(path.join(repo.root, `recipes/c${i}.yaml`), `name: c${i}\nextends: ${i === 1 ? 'base' : `c${i - 1}`}\n`);
    }
    const { problems, recipes } = await loadRecipes(recipeRepo(repo.root), [
      path.join(repo.root, 'recipes/c15.yaml'),
      path.join(repo.root, 'recipes/c20.yaml'),
    ]);
    expect(recipes.map((recipe) => recipe.name)).toEqual(['c15']);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file: 'recipes/c20.yaml', line: 2, path: 'extends' });
    expect(problems[0]!.message).toContain('`extends` chain is deeper than 16 levels: c20 → c19 → c18');
  });

  it('a chain 1,000 deep is validated in one pass (each file read and checked once)', async () => {
    for (let i = 1; i <= 1000; i += 1) {
      await writeFile(path.join(repo.root, `recipes/c${i}.yaml`), `name: c${i}\nextends: ${i === 1 ? 'base' : `c${i - 1}`}\n`);
    }
    const { problems } = await loadRecipes(recipeRepo(repo.root));
    const deep = problems.filter((problem) => problem.message.includes('deeper than 16'));
    expect(deep).toHaveLength(1000 - 16);
  }, 20_000);
});
