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

/**
 * Survivors whose change makes no difference to any caller, each with why. scripts/mutation
 * matches a survivor by file, enclosing top-level function, mutator, the code it replaced, the
 * replacement and (`line`) a piece of its source line; it prints the score with and without
 * them, and names every other survivor.
 */
export const equivalentMutants = [
  {
    file: 'src/promote/render.ts',
    function: 'grubMenu',
    mutator: 'StringLiteral',
    original: '`# ${header}`',
    replacement: '``',
    why: "grubMenu's text only goes into grub.cfg, which drops its first line for a header of its own",
  },
  {
    file: 'src/source/zod-problems.ts',
    function: 'issueProblems',
    mutator: 'MethodExpression',
    original: 'issue.path.slice(0, -1)',
    replacement: 'issue.path',
    why: 'a missing field has no node: locate() falls back to its deepest existing ancestor, the parent',
  },
  {
    file: 'src/source/zod-problems.ts',
    function: 'issueProblems',
    line: "issue.path.at(-1) ?? ''",
    mutator: 'StringLiteral',
    original: "''",
    replacement: '"Stryker was here!"',
    why: 'only the document root has an empty path, and every caller checks that the top is a mapping before the schema',
  },
  {
    file: 'src/source/zod-problems.ts',
    function: 'issueProblems',
    mutator: 'ConditionalExpression',
    original: 'best.length > 0',
    replacement: 'true',
    why: 'every failed union branch has at least one issue; the one empty list zod makes (an exclusive union matching twice) has no branch, so best is undefined',
  },
  {
    file: 'src/source/zod-problems.ts',
    function: 'issueProblems',
    mutator: 'EqualityOperator',
    original: 'best.length > 0',
    replacement: 'best.length >= 0',
    why: 'as above: best is never an empty list',
  },
  {
    file: 'src/recipe/normalize.ts',
    function: 'normalizeRecipe',
    line: 'sources: [],',
    mutator: 'ArrayDeclaration',
    original: '[]',
    replacement: '["Stryker was here"]',
    why: '`sources: []` is a placeholder, replaced by the next statement',
  },
  {
    file: 'src/recipe/normalize.ts',
    function: 'installSet',
    line: 'value.packages?.sets ?? []',
    mutator: 'ArrayDeclaration',
    original: '[]',
    replacement: '["Stryker was here"]',
    why: 'no package set can have that name (set names are file names: no spaces), so it adds nothing',
  },
  {
    file: 'src/recipe/normalize.ts',
    function: 'installSet',
    line: 'value.packages?.exclude ?? []',
    mutator: 'ArrayDeclaration',
    original: '[]',
    replacement: '["Stryker was here"]',
    why: 'no package can have that name (no spaces or capitals), so excluding it removes nothing',
  },
  {
    file: 'src/recipe/patterns.ts',
    line: "code: 'custom', abort: true",
    mutator: 'BooleanLiteral',
    original: 'true',
    replacement: 'false',
    why: 'bootScriptUrl: a zod pipe never runs its second schema once the first reported an issue, abort or not',
  },
  {
    file: 'src/site/hostlist.ts',
    function: 'expandHostlist',
    line: "while (rest !== '')",
    mutator: 'StringLiteral',
    original: "''",
    replacement: '"Stryker was here!"',
    why: 'an empty rest makes one more pass that appends an empty literal and stops',
  },
  {
    file: 'src/site/hostlist.ts',
    function: 'expandRanges',
    line: "low = ''",
    mutator: 'StringLiteral',
    original: "''",
    replacement: '"Stryker was here!"',
    why: 'the default of `low` is never used: the first group (\\d+) always matches when the pattern does',
  },
  {
    file: 'src/site/hostlist.ts',
    function: 'expandRanges',
    mutator: 'EqualityOperator',
    original: 'to - from >= maxHostlistSize',
    replacement: 'to - from > maxHostlistSize',
    why: 'a range one name over the cap is then refused by the product check in expandHostlist, with the same message',
  },
  {
    file: 'src/store/image-ref.ts',
    function: 'parseImageRef',
    line: 'const version = at < 0',
    mutator: 'EqualityOperator',
    original: 'at < 0',
    replacement: 'at <= 0',
    why: 'at 0 the name is empty and refused before the version is looked at',
  },
  {
    file: 'src/store/image-ref.ts',
    function: 'parseImageRef',
    mutator: 'ConditionalExpression',
    original: "version !== 'latest'",
    replacement: 'true',
    why: '`latest` is itself a plain version name, so checking it against the version rule passes as before',
  },
  {
    file: 'src/promote/audit-text.ts',
    function: 'printable',
    mutator: 'EqualityOperator',
    original: 'code <= 0xff',
    replacement: 'code < 0xff',
    why: 'U+00FF is printable and never escaped',
  },
  {
    file: 'src/promote/audit-text.ts',
    function: 'printable',
    line: '`\\\\u${',
    mutator: 'StringLiteral',
    original: "'0'",
    replacement: '""',
    why: 'in the \\u escape: every escaped character above U+00FF (U+2028 to U+2069) has four hex digits already',
  },
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
