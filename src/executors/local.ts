import { testImage } from '../boot-test/boot-test.js';
import { buildImage } from '../image/build.js';
import type { ExecutorKind } from './executor.js';

/** Builds and boot tests on this host (root: builds mount and chroot). */
export const localExecutor: ExecutorKind = {
  name: 'local',
  description: 'this host',
  local: true,
  siteParts: [],
  async create({ repo, site, useCache, signal }) {
    return {
      name: 'local',
      build: (recipe, emit) => buildImage({ recipe, repo, site, useCache, emit, signal }),
      test: (image, { via, tree }, emit) => testImage({ store: site.store, image, via, emit, signal, tree }),
    };
  },
};
