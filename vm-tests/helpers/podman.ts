import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { execa } from 'execa';

import { projectRoot } from './recipe-repo.js';

/**
 * podman as the container tests need it here, and the builder image. The configuration is a
 * containers.conf of the tests' own (CONTAINERS_CONF): runc with cgroupfs (crun refuses a
 * hybrid cgroup layout), events to a file, and default ulimits within this host's hard limits
 * (podman's defaults exceed them).
 * The image is PXEFORGE_BUILDER_IMAGE, or made by scripts/builder-image.
 */
export async function podmanSetup(): Promise<{ env: Record<string, string>; image: string }> {
  const limits = await readFile('/proc/self/limits', 'utf8');
  const hard = (name: string) => Number(new RegExp(`^${name}\\s+\\S+\\s+(\\S+)`, 'm').exec(limits)?.[1]);
  const atMost = (limit: number, cap: number) => (Number.isFinite(limit) ? Math.min(limit, cap) : cap);
  const dir = path.join(tmpdir(), 'pxeforge-podman');
  await mkdir(dir, { recursive: true });
  const conf = path.join(dir, 'containers.conf');
  const nofile = atMost(hard('Max open files'), 1048576);
  // runc is refused more than 32768 processes here, whatever the hard limit says.
  const nproc = atMost(hard('Max processes'), 16384);
  await writeFile(
    conf,
    [
      '[containers]',
      `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`,
      '[engine]',
      'runtime = "runc"',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      '',
    ].join('\n'),
  );
  const env = { CONTAINERS_CONF: conf };
  let image = process.env.PXEFORGE_BUILDER_IMAGE;
  if (image === undefined) {
    const made = await execa('bash', [path.join(projectRoot, 'scripts/builder-image')], { cwd: projectRoot, env, stderr: 'inherit' });
    image = made.stdout.trim();
  }
  return { env, image };
}
