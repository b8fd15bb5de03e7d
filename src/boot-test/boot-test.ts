import { access, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { machine } from 'node:os';
import path from 'node:path';

import ssh2 from 'ssh2';
import which from 'which';

import type { Architecture } from '../arches/architecture.js';
import { findUefiFirmware } from '../arches/firmware.js';
import { getArch } from '../arches/registry.js';
import { ipxeBootScript } from '../boot-loaders/ipxe.js';
import { InterruptedError, UserError } from '../errors/user-error.js';
import { fetchedRoot, getFormat } from '../formats/registry.js';
import { verifyVersion } from '../integrity/verify.js';
import { run } from '../exec/run.js';
import { start } from '../exec/start.js';
import { makeTempDir } from '../exec/temp-dirs.js';
import { runStages, type Stage } from '../progress/stages.js';
import { bootParameters } from '../nodes/boot-record.js';
import { rootfsUrlPlaceholder, type Manifest } from '../store/manifest.js';
import { manifestArch } from '../store/manifest-arch.js';
import { readManifest, resolveVersion } from '../store/store.js';
import { serveArtifacts } from './artifact-server.js';
import { builtinChecks, runCheck, type CheckSpec } from './checks.js';
import { consoleTail, stuckIn } from './console-watch.js';
import { writeGuestRelay } from './guest-relay.js';
import { guestHostAddress, qemuArgv, type BootSource, type UefiDrives } from './qemu-argv.js';
import { earlierHostKeys, writeReport, type TestReport } from './report.js';
import type { SshSession } from './ssh.js';
import { freePort, watchBoot } from './watch-boot.js';
import type { BootTestOptions, TestContext, Tools, TreeBoot } from './test-context.js';

export type { BootTestOptions, TestContext, Tools, TreeBoot } from './test-context.js';

/** The architecture's UEFI firmware (QEMU's firmware descriptors), with a copy of its variable store for this run. */
async function uefiFirmware(arch: Architecture, runDir: string): Promise<UefiDrives> {
  const firmware = await findUefiFirmware(arch);
  const template = firmware.nvramTemplate.filename;
  const vars = path.join(runDir, 'OVMF_VARS.fd');
  await copyFile(template, vars).catch(() => {
    throw new UserError('TOOL_MISSING', `UEFI firmware ${template} is not installed`, { hint: `apt-get install ${arch.uefiPackage}` });
  });
  return { code: firmware.executable.filename, vars, format: firmware.executable.format };
}

const stages: Stage<TestContext>[] = [
  { id: 'verify', title: 'Verify the artifacts against the manifest', run: verifyArtifacts },
  { id: 'serve', title: 'Serve the artifacts on loopback', run: serve },
  { id: 'boot', title: 'Boot in QEMU until SSH answers', run: boot },
  { id: 'checks', title: 'Run the checks over SSH', run: checks },
];

/**
 * Boots the exact artifacts of an image version in QEMU and runs its checks over SSH. The
 * VM, the HTTP server and the temporary directory are always stopped and removed. The
 * report (bound to the artifact digests) is written whether the test passes or not.
 */
export async function testImage(options: BootTestOptions): Promise<TestReport> {
  const { dir } = await resolveVersion(options.store, options.image);
  const manifest = await readManifest(dir);
  // Removed below in every case; if the process exits first, by the exit hook (exec/temp-dirs.ts).
  const runDir = await makeTempDir('pxeforge-boot-');
  try {
    const context: TestContext = {
      options,
      dir,
      manifest,
      artifacts: {},
      run: runDir.path,
      consoleFile: path.join(runDir.path, 'console.log'),
      key: ssh2.utils.generateKeyPairSync('ed25519', { comment: 'pxeforge boot test' }),
      // KVM runs guests of this host's own architecture only; others are emulated (TCG).
      accel:
        getArch(manifestArch(manifest)).kernelName === machine() &&
        (await access('/dev/kvm').then(
          () => true,
          () => false,
        ))
          ? 'kvm'
          : 'tcg',
      argv: [],
      console: { phases: {}, fatal: undefined },
      checks: [],
      startedAt: Date.now(),
    };
    let stageError: unknown;
    try {
      await runStages(stages, context, { emit: options.emit, signal: options.signal }).catch((error: unknown) => {
        stageError = error;
      });
    } finally {
      context.ssh?.close();
      await context.vm?.stop();
      await context.consoleWatch?.stop();
      await context.server?.close();
    }
    // A report says how a boot went: without a VM started (bad version, tampered artifact,
    // no QEMU) or when interrupted, there is nothing to report and the error stands alone.
    if (options.signal.aborted) throw new InterruptedError(`boot test of ${manifest.name}@${manifest.version}`);
    if (stageError !== undefined && (context.vm === undefined || (stageError as { code?: string }).code === 'INTERRUPTED')) {
      throw stageError;
    }
    const report = await makeReport(context);
    await writeReport(dir, report, context.consoleFile);
    return report;
  } finally {
    await runDir.remove();
  }
}

async function verifyArtifacts(context: TestContext) {
  const { tree } = context.options;
  const from = tree === undefined ? context.dir : path.join(tree.tftpRoot, tree.placed);
  const [mismatch] = await verifyVersion(from, context.manifest.artifacts);
  const archive = tree?.nodeArchive;
  if (mismatch === undefined && archive !== undefined) {
    const [changed] = await verifyVersion(tree!.tftpRoot, { [archive.path]: archive });
    if (changed !== undefined) {
      throw new UserError(
        'ARTIFACT_TAMPERED',
        `${tree!.node ?? tree!.mac}: its node archive ${archive.path} ${changed.problem === 'missing' ? 'is missing' : 'does not match the digest the tree state records'}`,
        { hint: '`pxeforge verify` checks the whole tree; `pxeforge refresh` writes the archives again' },
      );
    }
  }
  if (mismatch !== undefined) {
    throw new UserError(
      'ARTIFACT_TAMPERED',
      `${context.manifest.name}@${context.manifest.version}: ${mismatch.name} ${mismatch.problem === 'missing' ? 'is missing' : 'does not match its manifest digest'}`,
      {
        hint: 'versions are immutable; rebuild the image instead of changing its files',
      },
    );
  }
  Object.assign(context.artifacts, context.manifest.artifacts);
  return `${Object.keys(context.artifacts).length} artifacts${tree?.nodeArchive === undefined ? '' : ' and the node archive'} match their sha256`;
}

async function serve(context: TestContext, { emit }: Tools) {
  const files: Record<string, string> = {};
  const { tree } = context.options;
  if (tree !== undefined) {
    // The node's configs name the site's HTTP server; the test plays it only when that is this host as QEMU sees it.
    if (tree.httpPort === undefined) return "nothing to serve: the node loads from the TFTP root and the site's HTTP server";
    for (const name of Object.keys(context.artifacts)) files[`/${tree.placed}/${name}`] = path.join(tree.tftpRoot, tree.placed, name);
    // The node's own archive, which its config loads from the same server as a second initrd.
    if (tree.nodeArchive !== undefined) files[`/${tree.nodeArchive.path}`] = path.join(tree.tftpRoot, tree.nodeArchive.path);
    context.server = await serveArtifacts(files, emit, 'boot', tree.httpPort);
    return `${context.server.url}/${tree.placed}/`;
  }
  for (const name of Object.keys(context.artifacts)) files[`/${name}`] = path.join(context.dir, name);
  context.server = await serveArtifacts(files, emit, 'boot');
  return context.server.url;
}

/** A direct boot's pxeforge parameters: image, version and the root's digest when the format fetches its root; no generation, group or channel. */
export function directBootParameters(manifest: Pick<Manifest, 'name' | 'version' | 'artifacts' | 'recipe'>): string[] {
  const rootSha256 = fetchedRoot(manifest.recipe.output.format, manifest.artifacts)?.sha256;
  return bootParameters({ image: manifest.name, version: manifest.version, rootSha256 });
}

function guestUrl(context: TestContext, name: string): string {
  return `http://${guestHostAddress}:${context.server!.port}/${name}`;
}

async function boot(context: TestContext, tools: Tools) {
  const { manifest } = context;
  const { tree } = context.options;
  const arch = getArch(manifestArch(manifest));
  // Booted from the tree, the node's own config gives the command line; booted directly, the test serves the root.
  const rootUrlArtifact = getFormat(manifest.recipe.output.format).rootUrlArtifact;
  let cmdline = tree !== undefined ? '' : manifest.kernel.cmdline;
  if (tree === undefined && rootUrlArtifact !== undefined)
    cmdline = cmdline.replace(rootfsUrlPlaceholder, guestUrl(context, rootUrlArtifact));
  // What the node records of its boot, and the digest it checks a fetched root against (docs/fleet.md).
  if (tree === undefined) cmdline = [cmdline, ...directBootParameters(manifest)].filter((part) => part !== '').join(' ');
  let source: BootSource = {
    kind: 'direct',
    kernel: path.join(context.dir, 'vmlinuz'),
    initrd: path.join(context.dir, 'initrd.img'),
    cmdline,
    // Nodes without BIOS (arm64) boot their kernel from UEFI, and so does the test.
    ...(arch.bios ? {} : { uefi: await uefiFirmware(arch, context.run) }),
  };
  if (tree !== undefined) {
    source = {
      kind: 'pxe',
      tftpDir: tree.tftpRoot,
      bootfile: tree.entry,
      ...(tree.uefi ? { uefi: await uefiFirmware(arch, context.run) } : {}),
    };
  } else if (context.options.via === 'pxe') {
    if (!arch.bios) {
      // The test's own script needs iPXE in the NIC's ROM, which QEMU has for x86 only.
      throw new UserError('BAD_OPTION', `--via pxe without --channel boots through QEMU's iPXE ROM, which ${arch.name} machines lack`, {
        hint: `boot it from the tree as a node of an ${arch.name} group does: promote it, then \`pxeforge test ${manifest.name}@${manifest.version} --via pxe --channel <channel> --entry grub/${arch.grub.platform}/core.efi\``,
      });
    }
    const tftpDir = path.join(context.run, 'tftp');
    await mkdir(tftpDir);
    await writeFile(
      path.join(tftpDir, 'boot.ipxe'),
      ipxeBootScript({
        message: 'loading kernel and initrd',
        kernel: guestUrl(context, 'vmlinuz'),
        initrd: guestUrl(context, 'initrd.img'),
        cmdline,
      }),
    );
    source = { kind: 'pxe', tftpDir, bootfile: 'boot.ipxe' };
  }
  const { memory, cpus, timeout } = manifest.recipe.tests.boot;
  if ((await which(arch.qemu.binary, { nothrow: true })) === null) {
    throw new UserError('TOOL_MISSING', `\`${arch.qemu.binary}\` is not installed (or not on PATH)`, {
      hint: 'run `pxeforge doctor` to see what is missing and how to install it',
    });
  }
  const artifactServer =
    context.server === undefined ? undefined : { port: context.server.port, relay: await writeGuestRelay(context.run) };
  const started = Date.now();
  for (let attempt = 1; ; attempt += 1) {
    const sshPort = await (context.options.pickPort ?? freePort)();
    context.argv = qemuArgv({
      arch,
      accel: context.accel,
      memoryMiB: memory,
      cpus,
      boot: source,
      sshPort,
      authorizedKey: context.key.public,
      consoleLog: context.consoleFile,
      mac: tree?.mac,
      artifactServer,
    });
    await context.consoleWatch?.stop();
    context.vm = start(context.argv, { emit: tools.emit, stage: 'boot' });
    const outcome = await watchBoot(context, sshPort, started + timeout * 1000, tools);
    if (outcome === 'port taken' && attempt < 3) continue;
    if (outcome.startsWith('QEMU exited') && context.accel === 'kvm' && /kvm/i.test(outcome)) {
      // /dev/kvm exists but does not work (nested virtualisation without the CPU features QEMU needs).
      tools.emit({ type: 'warning', message: `KVM failed (${outcome}); booting with TCG instead` });
      context.accel = 'tcg';
      continue;
    }
    if (outcome !== 'ssh') {
      const tail = await consoleTail(context.consoleFile);
      const phase = stuckIn(context.console);
      context.failure = { phase, reason: outcome, consoleTail: tail };
      throw new UserError(
        'BOOT_FAILED',
        `${manifest.name}@${manifest.version} did not boot: ${outcome} (stuck in: ${phase})\nlast console lines:\n${tail.map((line) => `  | ${line}`).join('\n')}`,
        {
          hint: `the whole console is kept in ${path.join(context.dir, 'console.log')}`,
        },
      );
    }
    return `SSH after ${((Date.now() - started) / 1000).toFixed(0)} s (${context.accel})`;
  }
}

async function checks(context: TestContext, tools: Tools) {
  const { recipe } = context.manifest;
  const session = context.ssh!;
  const specs: CheckSpec[] = [
    ...(recipe.tests.boot.builtinChecks
      ? builtinChecks(
          recipe.output.format,
          session,
          await earlierHostKeys(context.dir),
          context.options.tree?.managedHostKey,
          // Images built before the boot record have no program that writes it.
          context.manifest.bootRecord === undefined
            ? undefined
            : { image: context.manifest.name, version: context.manifest.version, tree: context.options.tree },
        )
      : []),
    ...recipe.tests.checks,
  ];
  for (const spec of specs) {
    const result = await runCheck(session, spec);
    context.checks.push(result);
    tools.emit({
      type: result.passed ? 'info' : 'warning',
      message: `${result.passed ? 'pass' : 'FAIL'}: ${result.name}${result.reason ? ` — ${result.reason}` : ''}`,
    });
  }
  await multiUserFromGuest(context, session);
  const failed = context.checks.filter((check) => !check.passed);
  if (failed.length > 0) {
    throw new UserError(
      'CHECKS_FAILED',
      `${failed.length} of ${context.checks.length} checks failed: ${failed.map((check) => `${check.name} (${check.reason})`).join('; ')}`,
    );
  }
  return `${context.checks.length} checks passed`;
}

/**
 * The serial console (115200 baud) can lag behind a node under TCG, so "Reached target
 * multi-user" may not be printed yet when the checks end. Then the guest's own clock says
 * when it got there: microseconds since its kernel started, which the console timed.
 */
async function multiUserFromGuest(context: TestContext, session: SshSession): Promise<void> {
  if (context.console.phases['multi-user'] !== undefined || context.console.phases.kernel === undefined) return;
  const result = await session.exec('systemctl show -P ActiveEnterTimestampMonotonic multi-user.target', 10_000);
  const micros = Number(result.stdout.trim());
  // The console watcher replaces its state while we wait: write into the current one.
  const { phases } = context.console;
  if (result.exitCode === 0 && micros > 0 && phases['multi-user'] === undefined)
    phases['multi-user'] = phases.kernel! + Math.round(micros / 1000);
}

async function makeReport(context: TestContext): Promise<TestReport> {
  const qemuVersion = await run([getArch(manifestArch(context.manifest)).qemu.binary, '--version'], { capture: true }).then(
    (r) => r.stdout.split('\n')[0] ?? '',
    () => 'unknown',
  );
  const { recipe } = context.manifest;
  const passed =
    context.failure === undefined &&
    context.ssh !== undefined &&
    context.checks.length > 0 &&
    context.checks.every((check) => check.passed);
  return {
    schemaVersion: 1,
    name: context.manifest.name,
    version: context.manifest.version,
    via: context.options.via,
    ...(context.options.tree === undefined ? {} : { tree: treeRecord(context.options.tree) }),
    passed,
    startedAt: new Date(context.startedAt).toISOString(),
    durationMs: Date.now() - context.startedAt,
    artifacts: context.artifacts,
    kernel: context.manifest.kernel.version,
    qemu: {
      version: qemuVersion,
      accel: context.accel,
      memoryMiB: recipe.tests.boot.memory,
      cpus: recipe.tests.boot.cpus,
      argv: context.argv,
    },
    phases: context.console.phases,
    ...(context.failure === undefined ? {} : { failure: context.failure }),
    checks: context.checks,
    hostKey: context.ssh?.hostKey,
    fetched: context.server?.fetched ?? [],
    consoleLog: 'console.log',
  };
}

function treeRecord(tree: TreeBoot): NonNullable<TestReport['tree']> {
  return {
    channel: tree.channel,
    generation: tree.generation,
    group: tree.group,
    mac: tree.mac,
    ...(tree.node === undefined ? {} : { node: tree.node }),
    entry: tree.entry,
  };
}
