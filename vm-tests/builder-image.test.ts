import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

import { podManifest } from '../src/executors/kubernetes/pod-manifest.js';
import { podLocalPath } from '../src/site/schema.js';
import { ensureBuilderImage } from './helpers/builder-image.js';
import { projectRoot } from './helpers/recipe-repo.js';

/**
 * The builder image of the kubernetes executor, made here without a registry
 * (scripts/builder-image), run in real podman containers: pxeforge's host tools are all in it,
 * its Node.js satisfies package.json's engines, and podman runs the exact pod pxeforge sends
 * for a build (`podman kube play`, with its infra container).
 */
let image: string;
let dir: string;

beforeAll(async () => {
  image = await ensureBuilderImage();
  dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-builder-image-'));
});
afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('builder image', () => {
  it('is tagged by a digest of its inputs, and a second run with the same inputs reuses it', async () => {
    expect(image).toMatch(/^localhost\/pxeforge-builder:[0-9a-f]{16}$/);
    const again = await execa('bash', [path.join(projectRoot, 'scripts/builder-image')], { cwd: projectRoot });
    expect(again.stdout.trim()).toBe(image);
    expect(again.stderr).toContain(`reusing ${image}`);
  });

  it('passes `pxeforge doctor` and has Node.js >= 20.5', async () => {
    const doctor = await execa('podman', ['run', '--rm', image, 'pxeforge', 'doctor'], { reject: false });
    expect(doctor.exitCode, doctor.stdout + doctor.stderr).toBe(0);
    expect(doctor.stdout).toContain('all host tools are present');
    // Every tool a site needs is there; the section for arm64 images lists what only sites with arm64 images need.
    const [needed, arm64] = doctor.stdout.split('for arm64 images');
    expect(arm64, doctor.stdout).toBeDefined();
    expect(needed).not.toContain('MISSING');

    const node = await execa('podman', ['run', '--rm', image, 'node', '--version']);
    const [major, minor] = /^v(\d+)\.(\d+)\./
      .exec(node.stdout.trim())!
      .slice(1)
      .map((part) => Number(part));
    expect(major! > 20 || (major === 20 && minor! >= 5), node.stdout).toBe(true);
  });

  it('runs the build pod pxeforge sends, with podman kube play', async () => {
    const shared = path.join(dir, 'shared');
    await mkdir(shared);
    const pod = podManifest({
      kind: 'build',
      image: 'tiny',
      runId: 'kube-play',
      arch: 'amd64',
      command: ['pxeforge', 'k8s', 'run-build'],
      config: { namespace: 'pxeforge', image, storage: { hostPath: shared, mountPath: '/srv/pxeforge' } },
    });
    // What the API server does with generateName, and a trivial command instead of the build.
    const name = `${pod.metadata!.generateName!}${randomBytes(4).toString('hex')}`;
    pod.metadata = { ...pod.metadata, name };
    delete pod.metadata.generateName;
    const container = pod.spec!.containers[0]!;
    // The shared storage gets pxeforge's version; the node-local volume must be writable.
    container.command = ['sh', '-c', `pxeforge --version > /srv/pxeforge/ran && touch ${podLocalPath}/probe && echo "ran in $(id -u)"`];
    const manifest = path.join(dir, 'pod.yaml');
    await writeFile(manifest, stringify(pod));

    const play = await execa('podman', ['kube', 'play', manifest], { reject: false });
    try {
      expect(play.exitCode, play.stdout + play.stderr).toBe(0);
      const containerName = `${name}-${container.name}`;
      const wait = await execa('podman', ['wait', containerName]);
      expect(wait.stdout.trim()).toBe('0');
      const logs = await execa('podman', ['logs', containerName]);
      expect(logs.stdout.trim()).toBe('ran in 0');
      const privileged = await execa('podman', ['inspect', '--format', '{{.HostConfig.Privileged}}', containerName]);
      expect(privileged.stdout.trim()).toBe('true');
      const version = await execa('node', [path.join(projectRoot, 'bin/pxeforge.js'), '--version']);
      expect(await readFile(path.join(shared, 'ran'), 'utf8')).toBe(`${version.stdout.trim()}\n`);
    } finally {
      await execa('podman', ['kube', 'down', manifest], { reject: false });
    }
  });
});
