import { appendFile, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { Pod } from 'kubernetes-models/v1';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { PxeEvent } from '../../src/events/events.js';
import { clientFromConfig } from '../../src/executors/kubernetes/client.js';
import { buildInPod, testInPod } from '../../src/executors/kubernetes/remote.js';
import { stampKey } from '../../src/executors/kubernetes/run-pod.js';
import { recipeRepo } from '../../src/recipe/repo.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { requireSiteConfig } from '../../src/cli/load-site.js';
import type { SiteConfig } from '../../src/site/site-config.js';
import { copyFixtureRepo, runCli } from '../helpers/cli.js';
import { startFakeKube, type FakeKube, type Scenario } from '../helpers/fake-kube.js';
import { makeVersion } from '../helpers/tree-site.js';
import { testReportRecord } from '../helpers/records.js';

let fixture: Awaited<ReturnType<typeof copyFixtureRepo>>;
let fake: FakeKube | undefined;
let site: SiteConfig;

const kubernetesSection = `kubernetes:
  namespace: pxeforge
  image: pxeforge-builder:0.1.0
  storage: { pvc: pxeforge-shared, mountPath: /srv/pxeforge }
  resources: { build: { cpu: "2", memory: 6Gi } }
  deadlines: { buildSeconds: 1800 }
  kvm: true
`;

/** What a build pod prints: pxeforge's JSON events, then its result line. */
const buildLines =
  (count = 6) =>
  (pod: { metadata?: { labels?: Record<string, string> } }) => [
    JSON.stringify({ type: 'plan', stages: [{ id: 'bootstrap', title: 'Bootstrap' }] }),
    JSON.stringify({ type: 'stage-start', stage: 'bootstrap', title: 'Bootstrap' }),
    ...Array.from({ length: count }, (_, i) =>
      JSON.stringify({ type: 'output', stage: 'bootstrap', stream: 'stdout', line: `I: line ${i}` }),
    ),
    'a line that is not an event',
    JSON.stringify({ type: 'stage-end', stage: 'bootstrap', ok: true, durationMs: 5 }),
    JSON.stringify({ type: 'result', name: pod.metadata?.labels?.['pxeforge.io/recipe'], version: '20261125T120000Z-3fa9c1d2' }),
  ];

beforeEach(async () => {
  fixture = await copyFixtureRepo();
  await appendFile(path.join(fixture.root, 'pxeforge.yaml'), kubernetesSection);
  site = await requireSiteConfig(recipeRepo(fixture.root));
});
afterEach(async () => {
  await fake?.close();
  fake = undefined;
  await fixture.remove();
});

async function build(scenario: Scenario, options: { abortAfterMs?: number } = {}) {
  fake = await startFakeKube(scenario);
  const events: PxeEvent[] = [];
  const controller = new AbortController();
  if (options.abortAfterMs !== undefined) setTimeout(() => controller.abort(), options.abortAfterMs);
  const repo = recipeRepo(fixture.root);
  const recipe = await loadRecipe(repo, path.join(fixture.root, 'recipes/base.yaml'));
  const run = buildInPod({
    client: clientFromConfig(fake.kubeConfig, 'pxeforge'),
    site,
    repo,
    recipe,
    useCache: true,
    emit: (event) => events.push(event),
    signal: controller.signal,
    pollMs: 100,
    runId: 'run1',
  });
  return { run, events, fake };
}

const outputLines = (events: PxeEvent[]) => events.filter((e) => e.type === 'output').map((e) => (e as { line: string }).line);

describe('the kubernetes executor against a fake API server', () => {
  it('runs the build in a privileged pod, relays its events live, returns the version, deletes the pod', async () => {
    const { run, events, fake } = await build({ lines: buildLines(), end: { kind: 'succeeded' } });
    await expect(run).resolves.toMatchObject({ name: 'base', version: '20261125T120000Z-3fa9c1d2' });
    expect(events.filter((e) => e.type !== 'info').map((e) => e.type)).toEqual([
      'plan',
      'stage-start',
      'output',
      'output',
      'output',
      'output',
      'output',
      'output',
      'output',
      'stage-end',
    ]);
    expect(outputLines(events)).toEqual([
      'I: line 0',
      'I: line 1',
      'I: line 2',
      'I: line 3',
      'I: line 4',
      'I: line 5',
      'a line that is not an event',
    ]);
    expect(fake.deleted).toHaveLength(1);
    const [pod] = fake.created;
    // The pod as sent is a valid Pod (offline schema validation) with the promised settings.
    expect(() => new Pod(pod as never).validate()).not.toThrow();
    expect(pod!.spec).toMatchObject({ restartPolicy: 'Never', automountServiceAccountToken: false, activeDeadlineSeconds: 1800 });
    expect(pod!.spec!.containers[0]!.securityContext).toEqual({ privileged: true });
    expect(pod!.spec!.containers[0]!.resources!.limits).toEqual({ cpu: '2', memory: '6Gi' });
    expect(pod!.metadata!.labels).toEqual({
      'app.kubernetes.io/name': 'pxeforge',
      'pxeforge.io/kind': 'build',
      'pxeforge.io/recipe': 'base',
      'pxeforge.io/run': 'run1',
    });
    // The store and the inputs on the shared volume; the step cache and work trees on node-local storage (an emptyDir by default).
    expect(pod!.spec!.volumes).toEqual([
      { name: 'shared', persistentVolumeClaim: { claimName: 'pxeforge-shared' } },
      { name: 'local', emptyDir: {} },
    ]);
    expect(pod!.spec!.containers[0]!.volumeMounts).toEqual([
      { name: 'shared', mountPath: '/srv/pxeforge' },
      { name: 'local', mountPath: '/var/lib/pxeforge' },
    ]);
    const command = pod!.spec!.containers[0]!.command!;
    expect(command.slice(0, 4)).toEqual(['pxeforge', '--json', 'k8s', 'run-build']);
    const flag = (name: string) => command[command.indexOf(name) + 1];
    expect([flag('--store'), flag('--cache-dir'), flag('--work-dir')]).toEqual([
      site.store,
      '/var/lib/pxeforge/cache',
      '/var/lib/pxeforge/work',
    ]);
    expect(command).not.toContain(site.cache);
    // The inputs tar was checked by the "pod" and removed afterwards.
    expect(await readdir(path.join(site.store, '.inputs'))).toEqual([]);
  });

  it.each([
    ['a watch that ends silently', { watch: 'silent-end' }],
    ['a watch answered with 410 Gone', { watch: 'gone' }],
    ['a watch that never sends anything (polling)', { watch: 'hang' }],
  ] as const)('survives %s', async (_, variant) => {
    const { run, events } = await build({ lines: buildLines(), end: { kind: 'succeeded' }, ...variant });
    await expect(run).resolves.toMatchObject({ version: '20261125T120000Z-3fa9c1d2' });
    expect(outputLines(events)).toHaveLength(7);
  });

  it('a log stream that ends early is resumed without losing or repeating a line', async () => {
    const lines = buildLines(300);
    const { run, events, fake } = await build({ lines, end: { kind: 'succeeded' }, log: 'ends-early', linesPerStamp: 4, lineDelayMs: 1 });
    await run;
    expect(outputLines(events)).toEqual([...Array.from({ length: 300 }, (_, i) => `I: line ${i}`), 'a line that is not an event']);
    expect(fake.requests.filter((r) => r.includes('/log?')).length).toBeGreaterThanOrEqual(2);
    expect(fake.requests.some((r) => r.includes('sinceTime='))).toBe(true);
  });

  it.each([
    ['OOMKilled, with the limit', { kind: 'oom' }, 'POD_OOM', /ran out of memory \(OOMKilled at its limit of 6Gi\)/],
    ['Evicted', { kind: 'evicted' }, 'POD_EVICTED', /was evicted: The node was low on resource: ephemeral-storage/],
    [
      'an image that cannot be pulled',
      { kind: 'image-pull' },
      'POD_IMAGE_PULL',
      /cannot pull its image pxeforge-builder:0.1.0: ImagePullBackOff/,
    ],
    [
      "Unschedulable, with the scheduler's message",
      { kind: 'unschedulable' },
      'POD_UNSCHEDULABLE',
      /cannot be scheduled: 0\/3 nodes are available: 3 Insufficient memory/,
    ],
    ['deadline exceeded', { kind: 'deadline' }, 'POD_DEADLINE', /ran past its deadline of 1800 s/],
    ['a failing build', { kind: 'exit', code: 1 }, 'POD_FAILED', /failed: Error, exit code 1/],
  ] as const)('%s becomes a clear error, and the pod is deleted', async (_, end, code, message) => {
    const { run, fake } = await build({ lines: buildLines(2), end });
    const error = await run.then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string; hint?: string },
    );
    expect(error?.code).toBe(code);
    expect(error?.message).toMatch(message);
    expect(error?.message).toMatch(/^build of base: pod pxeforge-build-base-\w+ /);
    expect(fake.deleted).toHaveLength(1);
  });

  it('RBAC forbidden names the missing verb and resource', async () => {
    const { run, fake } = await build({ lines: buildLines(), end: { kind: 'succeeded' }, forbidCreate: true });
    const error = await run.then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string; hint: string },
    );
    expect(error).toMatchObject({ code: 'K8S_FORBIDDEN' });
    expect(error!.message).toContain('cannot create resource "pods" in API group "" in the namespace "pxeforge"');
    expect(error!.hint).toContain('deploy/rbac.yaml');
    expect(fake.created).toHaveLength(0);
  });

  it('inputs that do not reach the pod intact fail the build there', async () => {
    const { run, fake, events } = await build({ lines: buildLines(), end: { kind: 'succeeded' } });
    // Damage the tar as soon as it exists (before the pod reads it).
    const dir = path.join(site.store, '.inputs');
    for (let i = 0; i < 200 && fake.created.length === 0; i += 1) await new Promise((r) => setTimeout(r, 2));
    for (const name of await readdir(dir)) await writeFile(path.join(dir, name), 'damaged');
    await expect(run).rejects.toMatchObject({ code: 'POD_FAILED' });
    expect(events.some((e) => e.type === 'warning' && e.message.includes('inputs'))).toBe(true);
  });

  it('Ctrl-C mid-build deletes the pod', async () => {
    const { run, fake } = await build({ lines: buildLines(), end: { kind: 'forever' }, lineDelayMs: 5 }, { abortAfterMs: 400 });
    await expect(run).rejects.toMatchObject({ code: 'INTERRUPTED' });
    expect(fake.deleted).toHaveLength(1);
    expect(fake.pods.size).toBe(0);
  });
});

describe('log timestamps', () => {
  it('compare correctly although Kubernetes trims trailing zeros', () => {
    const stamps = [
      '2026-11-25T10:00:00Z',
      '2026-11-25T10:00:00.000000007Z',
      '2026-11-25T10:00:00.1Z',
      '2026-11-25T10:00:00.12Z',
      '2026-11-25T10:00:01Z',
    ];
    const keys = stamps.map(stampKey);
    expect([...keys].sort()).toEqual(keys);
  });
});

describe('the CLI with --executor kubernetes', () => {
  async function withKubeconfig(scenario: Scenario) {
    fake = await startFakeKube(scenario);
    const kubeconfig = path.join(fixture.root, 'kubeconfig.yaml');
    await writeFile(kubeconfig, fake.kubeConfig.exportConfig());
    const text = await readFile(path.join(fixture.root, 'pxeforge.yaml'), 'utf8');
    await writeFile(path.join(fixture.root, 'pxeforge.yaml'), text.replace('kubernetes:\n', `kubernetes:\n  kubeconfig: ${kubeconfig}\n`));
    return fake;
  }

  it('builds several recipes in pods at once, one live view, one line per result', async () => {
    await withKubeconfig({ lines: buildLines(3), end: { kind: 'succeeded' } });
    const result = await runCli(
      ['build', 'recipes/base.yaml', 'recipes/child.yaml', '--executor', 'kubernetes', '--parallel', '2'],
      fixture.root,
    );
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^\[base:bootstrap\] I: line 2$/m);
    expect(result.stdout).toMatch(/^\[child:bootstrap\] I: line 0$/m);
    expect(result.stdout).toMatch(/^built base@20261125T120000Z-3fa9c1d2 in /m);
    expect(result.stdout).toMatch(/^built child@20261125T120000Z-3fa9c1d2 in /m);
    expect(fake!.created.map((pod) => pod.metadata!.labels!['pxeforge.io/recipe']).sort()).toEqual(['base', 'child']);
    // The pod builds the recipe named, not its parent.
    const child = fake!.created.find((pod) => pod.metadata!.labels!['pxeforge.io/recipe'] === 'child')!;
    const command = child.spec!.containers[0]!.command!;
    expect(command[command.indexOf('--recipe') + 1]).toBe('recipes/child.yaml');
    // One run id for the whole command.
    expect(new Set(fake!.created.map((pod) => pod.metadata!.labels!['pxeforge.io/run'])).size).toBe(1);
    expect(fake!.deleted).toHaveLength(2);
  });

  it('--cache-dir and --work-dir are refused with the kubernetes executor: pods use their node-local storage', async () => {
    const result = await runCli(['build', 'recipes/base.yaml', '--executor', 'kubernetes', '--work-dir', '/scratch'], fixture.root);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('--cache-dir and --work-dir are for the local executor (pods have their own)');
  });

  it('one failed build of several does not stop the others; the exit code says it failed', async () => {
    await withKubeconfig({
      lines: (pod) =>
        pod.metadata?.labels?.['pxeforge.io/recipe'] === 'child' ? ['{"type":"warning","message":"apt failed"}'] : buildLines(1)(pod),
      end: { kind: 'succeeded' },
    });
    const result = await runCli(
      ['build', 'recipes/base.yaml', 'recipes/child.yaml', '--executor', 'kubernetes', '--parallel', '2'],
      fixture.root,
    );
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/^built base@/m);
    expect(result.stderr).toContain('FAILED child: build of child: the pod ended without saying which version it built');
  });

  it('pipeline --executor kubernetes: build and boot test in pods, promotion here', async () => {
    await withKubeconfig({
      lines: (pod) =>
        pod.metadata?.labels?.['pxeforge.io/kind'] === 'test' ? [JSON.stringify({ type: 'result', passed: true })] : buildLines(1)(pod),
      end: { kind: 'succeeded' },
    });
    // What the build pod leaves in the shared store (the fake pod does not build), and its boot test's report.
    await makeVersion(site.store, 'base', '20261125T120000Z-3fa9c1d2', { format: 'initramfs', tested: 'passed' });
    const result = await runCli(['pipeline', 'recipes/base.yaml', '--executor', 'kubernetes', '--promote-to', 'staging'], fixture.root);
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^base +20261125T120000Z-3fa9c1d2 +\S+ s +PASSED \(\d+ s\) +staging$/m);
    expect(fake!.created.map((pod) => pod.metadata!.labels!['pxeforge.io/kind'])).toEqual(['build', 'test']);
    expect((await runCli(['status'], fixture.root)).stdout).toContain('base@20261125T120000Z-3fa9c1d2');
  });

  it('k8s cleanup deletes the pods pxeforge left behind, and only those', async () => {
    const fakeKube = await withKubeconfig({ lines: () => [], end: { kind: 'forever' } });
    const client = clientFromConfig(fakeKube.kubeConfig, 'pxeforge');
    const pod = (labels: Record<string, string>) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { generateName: 'p-', labels },
      spec: { containers: [{ name: 'c', image: 'i' }] },
    });
    await client.core.createNamespacedPod({
      namespace: 'pxeforge',
      body: pod({ 'app.kubernetes.io/name': 'pxeforge', 'pxeforge.io/run': 'a' }),
    });
    await client.core.createNamespacedPod({
      namespace: 'pxeforge',
      body: pod({ 'app.kubernetes.io/name': 'pxeforge', 'pxeforge.io/run': 'b' }),
    });
    await client.core.createNamespacedPod({ namespace: 'pxeforge', body: pod({ app: 'something-else' }) });
    let result = await runCli(['k8s', 'cleanup', '--run', 'a'], fixture.root);
    expect(result.stdout).toMatch(/deleted 1 pod\(s\)/);
    result = await runCli(['k8s', 'cleanup'], fixture.root);
    expect(result.stdout).toMatch(/deleted 1 pod\(s\)/);
    expect([...fakeKube.pods.values()].map((r) => r.pod.metadata!.labels)).toEqual([{ app: 'something-else' }]);
  });

  it('without a kubernetes section, says what to add', async () => {
    await writeFile(
      path.join(fixture.root, 'pxeforge.yaml'),
      (await readFile(path.join(fixture.root, 'pxeforge.yaml'), 'utf8')).split('kubernetes:')[0]!,
    );
    const result = await runCli(['build', 'recipes/base.yaml', '--executor', 'kubernetes'], fixture.root);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('pxeforge.yaml has no `kubernetes` section');
  });
});

describe('boot tests in pods', () => {
  it('runs the boot test in an unprivileged pod and returns the report the pod wrote to the store', async () => {
    fake = await startFakeKube({
      lines: () => [
        JSON.stringify({ type: 'stage-start', stage: 'boot', title: 'Boot' }),
        JSON.stringify({ type: 'result', passed: true }),
      ],
      end: { kind: 'succeeded' },
    });
    // The version in the shared store (an arm64 one: the pod goes to an arm64 node), and what the pod leaves there.
    await makeVersion(site.store, 'base', '20261125T120000Z-3fa9c1d2', { arch: 'arm64' });
    const dir = path.join(site.store, 'images/base/20261125T120000Z-3fa9c1d2');
    await writeFile(
      path.join(dir, 'test-report.json'),
      JSON.stringify(testReportRecord({ name: 'base', version: '20261125T120000Z-3fa9c1d2', passed: true, checks: [] })),
    );
    const events: PxeEvent[] = [];
    const report = await testInPod({
      client: clientFromConfig(fake.kubeConfig, 'pxeforge'),
      site,
      image: 'base@20261125T120000Z-3fa9c1d2',
      via: 'direct',
      emit: (e) => events.push(e),
      signal: new AbortController().signal,
      pollMs: 100,
    });
    expect(report.passed).toBe(true);
    const pod = fake.created[0]!;
    expect(() => new Pod(pod as never).validate()).not.toThrow();
    expect(pod.spec!.containers[0]!.securityContext).toEqual({ privileged: false, allowPrivilegeEscalation: false });
    expect(pod.spec!.containers[0]!.resources!.limits).toEqual({ 'devices.kubevirt.io/kvm': '1' });
    expect(pod.metadata!.labels!['pxeforge.io/version']).toBe('20261125T120000Z-3fa9c1d2');
    expect(pod.spec!.nodeSelector?.['kubernetes.io/arch']).toBe('arm64');
    expect(events.some((e) => e.type === 'stage-start')).toBe(true);
    expect(fake.deleted).toHaveLength(1);
  });
});
