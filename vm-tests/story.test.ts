import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { TestReport } from '../src/boot-test/report.js';
import type { PipelineOutcome } from '../src/workflow/pipeline.js';
import { tempRecipeRepo, type TempRepo } from './helpers/recipe-repo.js';

/**
 * From commit to node image, the way admins use pxeforge: two recipes share a parent; a
 * commit changes one recipe's overlay; `changed` names only it; `pipeline` builds, tests and
 * promotes only it to staging; a person promotes it to production; it misbehaves; one
 * rollback and the PXE-booted node runs the previous version again. A change to the shared
 * parent rebuilds both.
 */
let repo: TempRepo;
const site = `channels:
  staging: {}
  production: { protected: true }
nodeGroups:
  alpha-canary: { image: alpha, channel: staging, macs: ["52:54:00:12:34:56"] }
  alpha-nodes: { image: alpha, channel: production, macs: ["52:54:00:00:10:01"] }
  beta-nodes: { image: beta, channel: staging, macs: ["52:54:00:00:20:01"] }
`;

const recipe = (name: string) =>
  [
    `name: ${name}`,
    'extends: shared',
    `overlays: [common, ${name}]`,
    'tests:',
    '  checks:',
    `    - { name: marker, run: "cat /etc/${name}-marker" }`,
    '',
  ].join('\n');

async function pipeline(args: string[]): Promise<{ stdout: string; outcomes: PipelineOutcome[] }> {
  const result = await repo.pxeforge(['--json', 'pipeline', ...args]);
  expect(result.exitCode, result.stdout.slice(-3000) + result.stderr).toBe(0);
  const last = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { outcomes: PipelineOutcome[] };
  return { stdout: result.stdout, outcomes: last.outcomes };
}

async function changed(): Promise<Record<string, string[]>> {
  const result = await repo.pxeforge(['--json', 'changed', '--since', 'HEAD~1']);
  expect(result.exitCode, result.stderr).toBe(0);
  return Object.fromEntries(
    (JSON.parse(result.stdout) as { affected: { name: string; reasons: string[] }[] }).affected.map((a) => [a.name, a.reasons]),
  );
}

async function commitMarker(name: string, text: string): Promise<void> {
  await repo.write(`overlays/${name}/etc/${name}-marker`, `${text}\n`);
  await repo.git(['add', '-A']);
  await repo.git(['commit', '-qm', `${name}: ${text}`]);
}

beforeAll(async () => {
  repo = await tempRecipeRepo(site);
  // The shared parent: this project's tiny node under another name.
  await repo.write('recipes/shared.yaml', (await repo.read('recipes/tiny.yaml')).replace('name: tiny', 'name: shared'));
  for (const name of ['alpha', 'beta']) {
    await repo.write(`recipes/${name}.yaml`, recipe(name));
    await mkdir(path.join(repo.root, 'overlays', name, 'etc'), { recursive: true });
    await repo.write(`overlays/${name}/etc/${name}-marker`, `${name} one\n`);
  }
  await repo.git(['add', '-A']);
  await repo.git(['commit', '-qm', 'alpha and beta, sharing a parent']);
});
afterAll(async () => {
  await repo?.remove();
});

describe('from commit to node image', () => {
  it('a commit to one overlay goes through the pipeline to staging, production, and back', async () => {
    // Where production stands before the change: alpha "one", tested and promoted.
    let run = await pipeline(['recipes/alpha.yaml', '--promote-to', 'staging']);
    const first = run.outcomes[0]!.version!;
    expect(run.outcomes[0]).toMatchObject({ recipe: 'alpha', promotedTo: 'staging', failure: null, test: { passed: true } });
    expect((await repo.pxeforge(['promote', `alpha@${first}`, '--channel', 'production'])).exitCode).toBe(0);

    // The change: one commit to alpha's overlay.
    await commitMarker('alpha', 'alpha two');
    expect(await changed()).toEqual({ alpha: ['overlays/alpha/etc/alpha-marker'] });
    run = await pipeline(['--changed-since', 'HEAD~1', '--promote-to', 'staging']);
    expect(run.outcomes.map((o) => o.recipe)).toEqual(['alpha']);
    const second = run.outcomes[0]!.version!;
    expect(second).not.toBe(first);
    expect(run.outcomes[0]).toMatchObject({ promotedTo: 'staging', failure: null, test: { passed: true } });
    const manifest = JSON.parse(await readFile(path.join(repo.store, 'images/alpha', second, 'manifest.json'), 'utf8')) as {
      git: { commit: string; dirty: boolean };
    };
    expect(manifest.git).toEqual({ commit: (await repo.git(['rev-parse', 'HEAD'])).trim(), dirty: false });
    // The pipeline never touches a protected channel; a person does.
    expect((await repo.pxeforge(['status'])).stdout).toContain(`alpha@${first}  since`);
    expect((await repo.pxeforge(['promote', `alpha@${second}`, '--channel', 'production', '--reason', 'alpha two'])).exitCode).toBe(0);

    // It misbehaves: one command rolls production back, and the node boots "one" again.
    const rolled = await repo.pxeforge(['rollback', 'alpha', '--channel', 'production', '--reason', 'alpha two misbehaves']);
    expect(rolled.exitCode, rolled.stderr).toBe(0);
    const boot = await repo.pxeforge(['test', `alpha@${first}`, '--via', 'pxe', '--channel', 'production']);
    expect(boot.exitCode, boot.stdout + boot.stderr).toBe(0);
    const report = JSON.parse(await readFile(path.join(repo.store, 'images/alpha', first, 'test-report.json'), 'utf8')) as TestReport;
    expect(report.tree).toMatchObject({ channel: 'production', group: 'alpha-nodes' });
    expect(report.checks.find((c) => c.name === 'marker')!.output.trim()).toBe('alpha one');
    const history = (await repo.pxeforge(['history'])).stdout;
    expect(history).toContain('"alpha two misbehaves"');
  });

  it('a change to the shared parent rebuilds both', async () => {
    await repo.write('recipes/shared.yaml', `${await repo.read('recipes/shared.yaml')}# shared: a parent change\n`);
    await repo.git(['commit', '-qam', 'shared parent']);
    expect(await changed()).toEqual({ alpha: ['recipes/shared.yaml'], beta: ['recipes/shared.yaml'], shared: ['recipes/shared.yaml'] });
    const run = await pipeline(['--changed-since', 'HEAD~1', '--promote-to', 'staging']);
    expect(run.outcomes.map((o) => [o.recipe, o.promotedTo, o.failure])).toEqual([
      ['alpha', 'staging', null],
      ['beta', 'staging', null],
      ['shared', 'staging', null],
    ]);
    const status = (await repo.pxeforge(['status'])).stdout;
    expect(status).toMatch(/beta-nodes +1 node\(s\), bios, staging: beta@\S+/);
  });
});
