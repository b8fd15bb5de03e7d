import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Mutation testing of the pure modules (run it with scripts/mutation, see
 * docs/contributing.md). Stryker 9.6: version 10 needs Node 22.
 */

/** The modules measured: pure code whose tests should notice any change in behaviour. */
export const pureModules = [
  'src/promote/render.ts',
  'src/recipe/merge.ts',
  'src/source/zod-problems.ts',
  'src/recipe/normalize.ts',
  'src/recipe/patterns.ts',
  'src/site/hostlist.ts',
  'src/store/image-ref.ts',
  'src/promote/audit-text.ts',
];

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: pureModules,
  testRunner: 'vitest',
  vitest: { configFile: 'scripts/mutation.vitest.config.mjs', related: true },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: 'perTest',
  // Two cores shared with everything else on a build host.
  concurrency: Number(process.env.PXEFORGE_MUTATION_CONCURRENCY ?? 2),
  timeoutMS: 30_000,
  // The sandbox copy would follow this fixture symlink (to /etc); the test that needs it
  // makes it when it is missing.
  ignorePatterns: ['dist', 'var', 'vm-tests', 'test/fixtures/repo/overlays/escape'],
  reporters: ['json', 'clear-text', 'progress'],
  clearTextReporter: { allowColor: false, logTests: false, reportTests: false, reportScoreTable: false },
  jsonReporter: { fileName: 'var/mutation/mutation.json' },
  // Sandboxes outside the working tree, so that a `vitest run <filter>` there never picks up
  // a sandbox's copy of the tests.
  tempDirName: path.join(tmpdir(), 'pxeforge-mutation'),
  cleanTempDir: true,
};
