import type { KubernetesConfig } from '../../site/schema.js';
import type { KubeClient } from './client.js';

/** The cluster client, loaded only when a command uses it (client-node takes most of a second to import). */
export async function kubernetesClient(config: KubernetesConfig | undefined): Promise<KubeClient> {
  const { kubeClient } = await import('./client.js');
  return kubeClient(config);
}
