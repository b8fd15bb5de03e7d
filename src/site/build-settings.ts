import path from 'node:path';

import type { SiteConfigFile } from './schema.js';

/**
 * What builds read from pxeforge.yaml: where versions, the step cache and work trees go, and
 * the mirror. The store may be on a shared file system; the cache (its unpacked package
 * layers are overlay lower directories) and the work trees (overlay upper and work
 * directories) must be on a local disk.
 */
export interface BuildSettings {
  file: string;
  store: string;
  cache: string;
  /** Where builds make their work trees; default `<cache>/work`. */
  work: string;
  mirror: string;
  /** The settings that place the cache and the work trees, named in errors about them. */
  localSetting?: string;
}

/**
 * The build settings that change what a build produces (the others only say where it goes),
 * defaults applied. The build plan hashes them, and `pxeforge changed` compares them.
 */
export function producingSettings(values: { mirror?: string | undefined }): { mirror: string } {
  return { mirror: values.mirror ?? 'host' };
}

export function resolveBuildSettings(root: string, file: string, config: SiteConfigFile): BuildSettings {
  const cache = path.resolve(root, config.cache ?? 'var/cache');
  return {
    file,
    store: path.resolve(root, config.store ?? 'var/store'),
    cache,
    work: config.work === undefined ? path.join(cache, 'work') : path.resolve(root, config.work),
    ...producingSettings(config),
  };
}
