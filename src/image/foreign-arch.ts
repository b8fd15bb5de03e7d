import { readFile } from 'node:fs/promises';
import { machine } from 'node:os';
import path from 'node:path';

import which from 'which';

import type { Architecture } from '../arches/architecture.js';
import { UserError } from '../errors/user-error.js';
import type { Emit } from '../events/events.js';
import { run } from '../exec/run.js';

/** Where the kernel's binfmt_misc file system is mounted (systemd mounts it there; a container or a minimal host may not). */
export const binfmtMiscDir = '/proc/sys/fs/binfmt_misc';

/** What a foreign build found of binfmt on this host, and what it changed. */
export interface ForeignBuildState {
  /** The binfmt handler that runs the image's programs. */
  handler: string;
  /** Whether pxeforge mounted binfmt_misc (the one change it makes to the host). */
  mounted: boolean;
}

export interface ForeignBuildHost {
  /** `uname -m` of this host. */
  machine: string;
  /** Where binfmt_misc is (or is to be) mounted. */
  binfmtDir: string;
  /** The PATH searched for mmdebstrap's helper `arch-test`. */
  path?: string;
}

const defaultHost = (): ForeignBuildHost => ({ machine: machine(), binfmtDir: binfmtMiscDir });

/** What this host offers to run programs of an architecture through binfmt (undefined: the host's own architecture). */
export interface BinfmtStatus {
  handler: string;
  /** Whether binfmt_misc is mounted. */
  mounted: boolean;
  /** The handler: registered and enabled with the F flag (`ok`), or what is wrong with it (unknown while binfmt_misc is not mounted). */
  state: 'ok' | 'missing' | 'disabled' | 'no-fix-binary' | 'unknown';
  flags: string;
  /** Whether mmdebstrap's `arch-test` is installed. */
  archTest: boolean;
  /** The commands that install and register the handler. */
  fix: string;
}

export async function binfmtStatus(
  arch: Pick<Architecture, 'kernelName' | 'foreignBuild'>,
  host: ForeignBuildHost = defaultHost(),
): Promise<BinfmtStatus | undefined> {
  if (arch.kernelName === host.machine) return undefined;
  const { binfmtHandler: handler, package: qemuPackage } = arch.foreignBuild;
  const fix = `apt-get install ${qemuPackage} binfmt-support arch-test && update-binfmts --enable ${handler}`;
  const archTest = (await which('arch-test', { nothrow: true, ...(host.path === undefined ? {} : { path: host.path }) })) !== null;
  const mounted = (await readFile(path.join(host.binfmtDir, 'status'), 'utf8').catch(() => undefined)) !== undefined;
  if (!mounted) return { handler, mounted, state: 'unknown', flags: '', archTest, fix };
  const entry = await readFile(path.join(host.binfmtDir, handler), 'utf8').catch(() => undefined);
  if (entry === undefined) return { handler, mounted, state: 'missing', flags: '', archTest, fix };
  const lines = entry.split('\n');
  const flags =
    lines
      .find((line) => line.startsWith('flags:'))
      ?.slice('flags:'.length)
      .trim() ?? '';
  // F (fix binary): the kernel opens the interpreter when the handler is registered, so it runs inside the image's chroot too.
  const state = lines[0]?.trim() !== 'enabled' ? 'disabled' : flags.includes('F') ? 'ok' : 'no-fix-binary';
  return { handler, mounted, state, flags, archTest, fix };
}

/**
 * Readies this host to build a root of `arch` when the host is of another architecture:
 * mmdebstrap runs the image's programs through the kernel's binfmt_misc and Debian's
 * qemu-user-static (mmdebstrap checks that with `arch-test`). binfmt_misc is mounted when it is
 * not (said on the output: it stays mounted); a missing or disabled handler is an error with
 * the commands that fix it. Undefined for a native build.
 */
export async function prepareForeignBuild(
  arch: Pick<Architecture, 'name' | 'kernelName' | 'foreignBuild'>,
  emit: Emit,
  host: ForeignBuildHost = defaultHost(),
): Promise<ForeignBuildState | undefined> {
  let status = await binfmtStatus(arch, host);
  if (status === undefined) return undefined;
  const what = `building an ${arch.name} image on this ${host.machine} host`;
  let mounted = false;
  if (!status.mounted) {
    await run(['mount', '-t', 'binfmt_misc', 'binfmt_misc', host.binfmtDir], { emit, capture: true }).catch((error: Error) => {
      throw new UserError(
        'NO_BINFMT_HANDLER',
        `${what} needs binfmt_misc, which is not mounted at ${host.binfmtDir}, and mounting it failed: ${error.message}`,
        { hint: `mount it (mount -t binfmt_misc binfmt_misc ${host.binfmtDir}), then: ${status!.fix}` },
      );
    });
    mounted = true;
    emit({
      type: 'info',
      message: `mounted binfmt_misc at ${host.binfmtDir} (it was not mounted; it stays mounted) to run ${arch.name} programs through qemu-user-static`,
    });
    status = (await binfmtStatus(arch, host))!;
  }
  const { handler, fix, flags } = status;
  if (status.state === 'missing' || status.state === 'unknown')
    throw new UserError('NO_BINFMT_HANDLER', `${what} needs the binfmt handler ${handler}, which is not registered`, {
      hint: `as root: ${fix}`,
    });
  if (status.state === 'disabled') {
    throw new UserError('NO_BINFMT_HANDLER', `${what} needs the binfmt handler ${handler}, which is registered but disabled`, {
      hint: `as root: update-binfmts --enable ${handler}`,
    });
  }
  if (status.state === 'no-fix-binary') {
    throw new UserError(
      'NO_BINFMT_HANDLER',
      `${what} needs the binfmt handler ${handler} with the F flag (its interpreter is not in the image's chroot); it has flags "${flags}"`,
      { hint: `register it with Debian's ${arch.foreignBuild.package}, which sets the F flag: ${fix}` },
    );
  }
  if (!status.archTest) {
    throw new UserError(
      'TOOL_MISSING',
      `${what}: mmdebstrap checks the ${arch.name} binfmt handler with arch-test, which is not installed`,
      {
        hint: 'apt-get install arch-test',
      },
    );
  }
  return { handler, mounted };
}
