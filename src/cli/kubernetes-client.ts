import type { KubeClient } from '../executors/kubernetes/client.js';
import type { KubernetesConfig } from '../site/schema.js';

/** The cluster client, loaded only when a command uses it (client-node takes most of a second to import). */
export async function kubernetesClient(config: KubernetesConfig | undefined): Promise<KubeClient> {
  const { kubeClient } = await import('../executors/kubernetes/client.js');
  return kubeClient(config);
}
