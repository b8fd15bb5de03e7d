import type { V1Pod } from '@kubernetes/client-node';

import type { KubernetesConfig } from '../../site/schema.js';

export const labels = {
  app: 'app.kubernetes.io/name',
  kind: 'pxeforge.io/kind',
  recipe: 'pxeforge.io/recipe',
  version: 'pxeforge.io/version',
  run: 'pxeforge.io/run',
} as const;

/** Every pod pxeforge starts carries this label: what `pxeforge k8s cleanup` selects. */
export const ownedSelector = `${labels.app}=pxeforge`;

export interface PodRequest {
  kind: 'build' | 'test';
  /** Recipe (image) name. */
  image: string;
  version?: string;
  /** One id per pxeforge run, to find and clean up what it started. */
  runId: string;
  command: string[];
  config: KubernetesConfig;
}

export const containerName = (kind: PodRequest['kind']) => (kind === 'build' ? 'build' : 'boot-test');

/**
 * The pod of one build or boot test, as a pure function (validated offline against the
 * Kubernetes schemas in the tests). Only the build container is privileged (it mounts and
 * chroots); no service-account token is mounted; the pod never restarts and has a deadline.
 */
export function podManifest(request: PodRequest): V1Pod {
  const { config, kind } = request;
  const resources = (kind === 'build' ? config.resources?.build : config.resources?.test) ?? {};
  const limits: Record<string, string> = {
    ...(resources.cpu ? { cpu: resources.cpu } : {}),
    ...(resources.memory ? { memory: resources.memory } : {}),
  };
  if (kind === 'test' && config.kvm) limits['devices.kubevirt.io/kvm'] = '1';
  const deadline = kind === 'build' ? (config.deadlines?.buildSeconds ?? 3600) : (config.deadlines?.testSeconds ?? 1800);
  const storage = config.storage;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: `pxeforge-${kind}-${request.image}-`,
      namespace: config.namespace,
      labels: {
        [labels.app]: 'pxeforge',
        [labels.kind]: kind,
        [labels.recipe]: request.image,
        [labels.run]: request.runId,
        ...(request.version === undefined ? {} : { [labels.version]: request.version }),
      },
    },
    spec: {
      restartPolicy: 'Never',
      activeDeadlineSeconds: deadline,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 30,
      ...(config.nodeSelector === undefined ? {} : { nodeSelector: config.nodeSelector }),
      ...(config.tolerations === undefined ? {} : { tolerations: config.tolerations }),
      containers: [
        {
          name: containerName(kind),
          image: config.image,
          command: request.command,
          env: [{ name: 'CI', value: 'true' }],
          securityContext: kind === 'build' ? { privileged: true } : { privileged: false, allowPrivilegeEscalation: false },
          ...(Object.keys(limits).length === 0 ? {} : { resources: { limits, requests: limits } }),
          volumeMounts: [{ name: 'shared', mountPath: storage.mountPath }],
        },
      ],
      volumes: [
        'pvc' in storage
          ? { name: 'shared', persistentVolumeClaim: { claimName: storage.pvc } }
          : { name: 'shared', hostPath: { path: storage.hostPath, type: 'Directory' } },
      ],
    },
  };
}
