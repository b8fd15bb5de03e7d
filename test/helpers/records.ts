import type { TestReport } from '../../src/boot-test/report.js';
import type { Recipe } from '../../src/recipe/recipe.js';
import type { Manifest } from '../../src/store/manifest.js';

/** A manifest.json as a build writes it, with `fields` over its defaults (for stores made by hand). */
export function manifestRecord(fields: Partial<Manifest> & Pick<Manifest, 'name' | 'version' | 'artifacts'>): Manifest {
  const format = fields.format ?? 'initramfs';
  return {
    schemaVersion: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    inputsDigest: '0'.repeat(64),
    inputs: {},
    recipeDigest: '0'.repeat(64),
    sourceDateEpoch: 1767225600,
    git: { commit: null, dirty: false },
    format,
    kernel: { package: 'linux-image-amd64', version: '6.1.0-test', cmdline: '' },
    packages: [],
    executor: 'local',
    durations: {},
    cache: {},
    hygiene: { removed: [], sshHostKeys: 'removed', sshKeysAtBoot: 'drop-in', machineId: 'empty', privateKeys: { allowed: [] } },
    recipe: {
      schemaVersion: 1,
      base: { arch: 'amd64' },
      packages: { install: [] },
      output: { format },
      tests: { boot: { memory: 2048, cpus: 2, timeout: 300, builtinChecks: true }, checks: [] },
    },
    pxeforgeVersion: '0.0.0-test',
    nodeFiles: { program: '/usr/lib/pxeforge/apply-node-files' },
    ...fields,
  };
}

/** A test-report.json as a boot test writes it, with `fields` over its defaults. */
export function testReportRecord(fields: Partial<TestReport> & Pick<TestReport, 'name' | 'version'>): TestReport {
  return {
    schemaVersion: 1,
    via: 'direct',
    passed: true,
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 30_000,
    artifacts: {},
    kernel: '6.1.0-test',
    qemu: { version: '8.2.2', accel: 'kvm', memoryMiB: 2048, cpus: 2, argv: [] },
    phases: {},
    checks: [],
    hostKey: undefined,
    fetched: [],
    consoleLog: 'console.log',
    ...fields,
  };
}

/** A normalized recipe as `normalize` returns it for a minimal recipe, with `fields` over its defaults. */
export function recipeRecord(fields: Partial<Recipe> & Pick<Recipe, 'name'>): Recipe {
  return {
    description: undefined,
    chain: [],
    sources: [],
    base: { distro: 'debian', release: 'bookworm', arch: 'amd64', variant: 'minbase', mirror: undefined },
    packages: { sets: [], install: [] },
    overlays: [],
    services: { enable: [], disable: [], mask: [] },
    users: [],
    groups: [],
    locale: undefined,
    timezone: undefined,
    kernel: { package: 'linux-image-amd64', cmdline: '', netbootDrivers: [] },
    output: { format: 'squashfs', compression: { algorithm: 'zstd', level: 3 }, acceptCapabilityLoss: false },
    hooks: [],
    hygiene: { allowPrivateKeys: [] },
    tests: { boot: { memory: 2048, cpus: 2, timeout: 300, builtinChecks: true }, checks: [] },
    ...fields,
  };
}
