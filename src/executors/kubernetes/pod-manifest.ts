import type { V1Pod, V1Volume } from '@kubernetes/client-node';

import path from 'node:path';

import { podLocalPath, type KubernetesConfig } from '../../site/schema.js';

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
  /** Debian architecture of the image (`base.arch`): the pod runs on a node of it (`kubernetes.io/arch`, which uses the same names). */
  arch: string;
  command: string[];
  config: KubernetesConfig;
}

/** The well-known node label of a node's CPU architecture (Go's GOARCH names: amd64, arm64, as Debian's). */
export const archLabel = 'kubernetes.io/arch';

/** The node-local directories of a build pod: the step cache and the work trees. */
export const podLocalDirs = { cache: path.join(podLocalPath, 'cache'), work: path.join(podLocalPath, 'work') } as const;

/**
 * The build pod's node-local volume: an emptyDir by default (the kubelet deletes it with the
 * pod, so every pod builds with a cold cache), or a hostPath on the builder node (created if
 * missing; the cache stays warm for the next pod on that node).
 */
export function localVolume(config: KubernetesConfig): V1Volume {
  const local = config.local ?? { emptyDir: {} };
  return 'hostPath' in local
    ? { name: 'local', hostPath: { path: local.hostPath, type: 'DirectoryOrCreate' } }
    : { name: 'local', emptyDir: local.emptyDir.sizeLimit === undefined ? {} : { sizeLimit: local.emptyDir.sizeLimit } };
}

export const containerName = (kind: PodRequest['kind']) => (kind === 'build' ? 'build' : 'boot-test');

/**
 * The pod of one build or boot test, as a pure function (validated offline against the
 * Kubernetes schemas in the tests). Only the build container is privileged (it mounts and
 * chroots); no service-account token is mounted; the pod never restarts and has a deadline.
 * Every pod mounts the shared storage (store and inputs); a build pod also mounts its
 * node-local volume for the step cache and work trees. Every pod runs on a node of the image's
 * architecture.
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
      // A build runs the image's programs natively, and a boot test uses KVM only on a node of the image's architecture.
      nodeSelector: { ...config.nodeSelector, [archLabel]: request.arch },
      ...(config.tolerations === undefined ? {} : { tolerations: config.tolerations }),
      containers: [
        {
          name: containerName(kind),
          image: config.image,
          command: request.command,
          env: [{ name: 'CI', value: 'true' }],
          securityContext: kind === 'build' ? { privileged: true } : { privileged: false, allowPrivilegeEscalation: false },
          ...(Object.keys(limits).length === 0 ? {} : { resources: { limits, requests: limits } }),
          volumeMounts: [
            { name: 'shared', mountPath: storage.mountPath },
            ...(kind === 'build' ? [{ name: 'local', mountPath: podLocalPath }] : []),
          ],
        },
      ],
      volumes: [
        'pvc' in storage
          ? { name: 'shared', persistentVolumeClaim: { claimName: storage.pvc } }
          : { name: 'shared', hostPath: { path: storage.hostPath, type: 'Directory' } },
        ...(kind === 'build' ? [localVolume(config)] : []),
      ],
    },
  };
}
