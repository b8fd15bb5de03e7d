import path from 'node:path';

import type { SiteConfigFile } from './schema.js';

/** What builds read from pxeforge.yaml: where versions and the step cache go, and the mirror. */
export interface BuildSettings {
  file: string;
  store: string;
  cache: string;
  mirror: string;
}

/**
 * The build settings that change what a build produces (the others only say where it goes),
 * defaults applied. The build plan hashes them, and `pxeforge changed` compares them.
 */
export function producingSettings(values: { mirror?: string | undefined }): { mirror: string } {
  return { mirror: values.mirror ?? 'host' };
}

export function resolveBuildSettings(root: string, file: string, config: SiteConfigFile): BuildSettings {
  return {
    file,
    store: path.resolve(root, config.store ?? 'var/store'),
    cache: path.resolve(root, config.cache ?? 'var/cache'),
    ...producingSettings(config),
  };
}
