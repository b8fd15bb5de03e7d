import { CoreV1Api, KubeConfig, Log, Watch } from '@kubernetes/client-node';

import { ExitCode, UserError } from '../../errors/user-error.js';
import type { KubernetesConfig } from '../../site/schema.js';

/** The three parts of client-node pxeforge uses. */
export interface KubeClient {
  core: CoreV1Api;
  watch: Watch;
  log: Log;
  namespace: string;
}

export function clientFromConfig(kubeConfig: KubeConfig, namespace: string): KubeClient {
  return { core: kubeConfig.makeApiClient(CoreV1Api), watch: new Watch(kubeConfig), log: new Log(kubeConfig), namespace };
}

/** The cluster of pxeforge.yaml's `kubernetes` section: its kubeconfig (or the default one) and context. */
export function kubeClient(config: KubernetesConfig | undefined): KubeClient {
  if (config === undefined) {
    throw new UserError('NO_KUBERNETES', 'pxeforge.yaml has no `kubernetes` section: the kubernetes executor does not know where to run', {
      hint: 'add kubernetes: {namespace, image, storage} (see docs/kubernetes.md)',
      exitCode: ExitCode.invalidInput,
    });
  }
  const kubeConfig = new KubeConfig();
  try {
    if (config.kubeconfig !== undefined) kubeConfig.loadFromFile(config.kubeconfig);
    else kubeConfig.loadFromDefault();
  } catch (error) {
    throw new UserError(
      'BAD_KUBECONFIG',
      `cannot read the kubeconfig${config.kubeconfig ? ` ${config.kubeconfig}` : ''}: ${(error as Error).message}`,
      { exitCode: ExitCode.invalidInput },
    );
  }
  if (config.context !== undefined) {
    if (!kubeConfig.getContexts().some((context) => context.name === config.context)) {
      throw new UserError('BAD_KUBECONFIG', `the kubeconfig has no context \`${config.context}\``, {
        hint: `contexts: ${kubeConfig
          .getContexts()
          .map((c) => c.name)
          .join(', ')}`,
        exitCode: ExitCode.invalidInput,
      });
    }
    kubeConfig.setCurrentContext(config.context);
  }
  if (kubeConfig.getCurrentCluster() === null) {
    throw new UserError('BAD_KUBECONFIG', 'the kubeconfig names no cluster (no KUBECONFIG, no ~/.kube/config?)', {
      exitCode: ExitCode.invalidInput,
    });
  }
  return clientFromConfig(kubeConfig, config.namespace);
}
