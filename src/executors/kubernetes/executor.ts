import { resolveVersion } from '../../store/store.js';
import type { ExecutorKind } from '../executor.js';
import { kubernetesClient } from './lazy-client.js';
import { buildInPod, newRunId, testInPod } from './remote.js';

/** Builds in privileged pods and boot tests in pods (KVM when configured), against the shared store. */
export const kubernetesExecutor: ExecutorKind = {
  name: 'kubernetes',
  description: 'privileged pods, see pxeforge.yaml',
  local: false,
  siteParts: ['executors'],
  async create({ repo, site, useCache, signal, output }) {
    const client = await kubernetesClient(site.kubernetes);
    const withPods = { ...site, kubernetes: site.kubernetes };
    const runId = newRunId();
    return {
      name: 'kubernetes',
      build: (recipe, emit) => buildInPod({ client, site: withPods, repo, recipe, useCache, emit, signal, runId, output }),
      async test(image, { via }, emit) {
        // The pod boots exactly this version, whatever is latest by the time it runs.
        const { name, version } = await resolveVersion(site.store, image);
        return testInPod({ client, site: withPods, image: `${name}@${version}`, via, emit, signal, runId, output });
      },
    };
  },
};
