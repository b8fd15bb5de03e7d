import type { KubernetesConfig, SiteConfigFile } from './schema.js';

/** The executors' settings: where build and boot-test pods run. */
export interface SiteExecutors {
  file: string;
  kubernetes: KubernetesConfig | undefined;
}

export function resolveExecutors(file: string, config: SiteConfigFile): SiteExecutors {
  return { file, kubernetes: config.kubernetes };
}
