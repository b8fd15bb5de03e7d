// A complete manifest record, as a build writes it, for benchmarks that place versions without
// building them (the tree never looks inside their artifacts).
export function benchManifest({ name, version, format = 'initramfs', artifacts, accounts }) {
  return {
    schemaVersion: 1,
    name,
    version,
    createdAt: new Date().toISOString(),
    inputsDigest: '0'.repeat(64),
    inputs: {},
    recipeDigest: '0'.repeat(64),
    sourceDateEpoch: 1767225600,
    git: { commit: null, dirty: false },
    format,
    artifacts,
    kernel: { package: 'linux-image-amd64', version: 'bench', cmdline: 'console=ttyS0,115200' },
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
    pxeforgeVersion: 'bench',
    nodeFiles: { program: '/usr/lib/pxeforge/apply-node-files' },
    ...(accounts === undefined ? {} : { accounts }),
  };
}
