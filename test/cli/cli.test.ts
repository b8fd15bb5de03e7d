import path from 'node:path';

import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

import { checkHostTools, installCommand, type HostTool } from '../../src/doctor/host-tools.js';
import { fixtureRepo, projectRoot, pxeforgeBin } from '../helpers/cli.js';

/** The real installed entry point, as an admin runs it. */
function pxeforge(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  return execa(process.execPath, [pxeforgeBin, ...args], { cwd: options.cwd ?? projectRoot, env: options.env, reject: false });
}

describe('pxeforge (the command)', () => {
  it('--help lists the verbs that exist and only those', async () => {
    const result = await pxeforge(['--help']);
    expect(result.exitCode).toBe(0);
    const verbs = [...result.stdout.matchAll(/^ {2}(\w+)\b/gm)].map((m) => m[1]);
    expect(verbs).toEqual([
      'validate',
      'build',
      'test',
      'promote',
      'rollback',
      'status',
      'history',
      'verify',
      'gc',
      'refresh',
      'unlock',
      'changed',
      'pipeline',
      'k8s',
      'render',
      'images',
      'show',
      'diff',
      'nodes',
      'fleet',
      'rollout',
      'report',
      'cache',
      'schema',
      'doctor',
      'help',
    ]);
    expect(result.stdout).toContain('Exit codes: 0 ok, 1 an operation failed, 2 invalid input or usage');
  });

  it.each(['validate', 'build', 'test', 'images', 'show', 'diff', 'cache', 'schema', 'doctor'])(
    '%s --help describes the verb',
    async (verb) => {
      const result = await pxeforge([verb, '--help']);
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^Usage: pxeforge ${verb}`));
    },
  );

  it('an unknown verb or flag is a usage error (exit 2)', async () => {
    const verb = await pxeforge(['biuld']);
    expect(verb.exitCode).toBe(2);
    expect(verb.stderr).toContain("error: unknown command 'biuld'");
    const flag = await pxeforge(['validate', '--strict']);
    expect(flag.exitCode).toBe(2);
    expect(flag.stderr).toContain("error: unknown option '--strict'");
  });

  it('no arguments prints help and exits 2', async () => {
    const result = await pxeforge([]);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toContain('Usage: pxeforge');
  });

  it('--version prints the package version', async () => {
    const result = await pxeforge(['--version']);
    expect(result.stdout).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('validate on a bad recipe: located problems on stderr, exit 2, no stack trace', async () => {
    const result = await pxeforge(['validate', 'recipes/bad/08-unknown-nested-key.yaml'], { cwd: fixtureRepo });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatchInlineSnapshot(`
      "recipes/bad/08-unknown-nested-key.yaml:4:3: packages.incldue: unknown key \`incldue\`
          hint: did you mean \`include\`?
      recipes/bad/08-unknown-nested-key.yaml:7:3: output.compresion: unknown key \`compresion\`
          hint: did you mean \`compression\`?
      2 problem(s) in 1 file(s)"
    `);
  });

  it('validate --json gives the problems as data', async () => {
    const result = await pxeforge(['--json', 'validate', 'recipes/bad/11-extends-missing.yaml'], { cwd: fixtureRepo });
    expect(result.exitCode).toBe(2);
    expect(JSON.parse(result.stdout)).toEqual({
      ok: false,
      recipes: [],
      problems: [
        {
          file: 'recipes/bad/11-extends-missing.yaml',
          line: 2,
          column: 10,
          path: 'extends',
          message: 'no recipe named `bsae` in recipes/',
          hint: 'did you mean `base`?',
        },
      ],
    });
  });

  it('finds the repository from a subdirectory, or from --repo', async () => {
    const nested = await pxeforge(['validate', 'base.yaml'], { cwd: path.join(fixtureRepo, 'recipes') });
    expect(nested.stdout).toContain('ok  recipes/base.yaml');
    expect(nested.exitCode).toBe(0);
    const elsewhere = await pxeforge(['--repo', fixtureRepo, 'validate', path.join(fixtureRepo, 'recipes/child.yaml')], { cwd: '/' });
    expect(elsewhere.exitCode).toBe(0);
  });

  it('errors in --json mode are JSON on stderr', async () => {
    const result = await pxeforge(['--json', 'validate'], { cwd: '/' });
    expect(result.exitCode).toBe(2);
    expect(JSON.parse(result.stderr)).toMatchObject({ error: { code: 'NO_SITE_CONFIG' } });
  });

  it('doctor lists what is missing and the apt-get line that installs it', async () => {
    const result = await pxeforge(['doctor'], { env: { PATH: '/nonexistent' } });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/^MISSING git +provenance +\(Debian package git\)$/m);
    expect(result.stdout).toMatch(/^ {2}apt-get update && apt-get install -y .*\bgit\b/m);
  });
});

describe('host tool checks', () => {
  const tools: HostTool[] = [
    { name: 'sh', check: { program: 'sh' }, package: 'dash', neededFor: 'build', purpose: 'a shell' },
    { name: 'nope', check: { program: 'pxeforge-nope' }, package: 'nope-pkg', neededFor: 'build', purpose: 'missing' },
    { name: 'rom', check: { file: '/nonexistent/rom' }, package: 'a-rom', neededFor: 'boot test', purpose: 'missing' },
    { name: 'passwd', check: { file: '/etc/passwd' }, package: 'base-files', neededFor: 'build', purpose: 'present' },
  ];

  it('finds programs on PATH and files by path; one apt-get line for the rest', async () => {
    const statuses = await checkHostTools(tools, '/usr/bin:/bin');
    expect(statuses.map((s) => [s.tool.name, s.found !== undefined])).toEqual([
      ['sh', true],
      ['nope', false],
      ['rom', false],
      ['passwd', true],
    ]);
    expect(installCommand(statuses)).toBe('apt-get install -y a-rom nope-pkg');
    expect(installCommand(statuses.filter((s) => s.found !== undefined))).toBeUndefined();
  });

  it('finds the first file that exists of several places (a file that moved between releases)', async () => {
    const [moved, gone] = await checkHostTools([
      { name: 'moved', check: { anyFile: ['/nonexistent/rom', '/etc/passwd'] }, package: 'a', neededFor: 'build', purpose: 'p' },
      { name: 'gone', check: { anyFile: ['/nonexistent/rom', '/nonexistent/other'] }, package: 'b', neededFor: 'build', purpose: 'p' },
    ]);
    expect(moved?.found).toBe('/etc/passwd');
    expect(gone?.found).toBeUndefined();
  });
});
