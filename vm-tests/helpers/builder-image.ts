import path from 'node:path';

import { execa } from 'execa';

import { projectRoot } from './recipe-repo.js';

let podman: Promise<void> | undefined;
let image: Promise<string> | undefined;

/** podman installed and configured for this kind of host (scripts/setup-podman), once per process. */
export function ensurePodman(): Promise<void> {
  podman ??= execa('bash', [path.join(projectRoot, 'scripts/setup-podman')], { stdout: 'ignore', stderr: 'inherit' }).then(() => undefined);
  return podman;
}

/**
 * The reference of the builder image (scripts/builder-image), made once per process. The script
 * tags the image with a digest of its inputs and reuses an image with that tag, so test files in
 * other processes share the one image; it serialises concurrent builds itself.
 */
export function ensureBuilderImage(): Promise<string> {
  image ??= ensurePodman().then(async () => {
    const { stdout } = await execa('bash', [path.join(projectRoot, 'scripts/builder-image')], { cwd: projectRoot, stderr: 'inherit' });
    return stdout.trim();
  });
  return image;
}
