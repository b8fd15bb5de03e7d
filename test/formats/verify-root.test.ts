import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  dracutModuleSetup,
  dracutVerifyRootFile,
  dracutVerifyRootScript,
  rootMismatchLine,
  rootRefetches,
} from '../../src/formats/node-programs.js';
import { squashfs } from '../../src/formats/squashfs.js';
import { readConsole } from '../../src/boot-test/console-watch.js';
import { sha256 } from '../../src/integrity/digest.js';

/**
 * The root check of the netboot initrd as livenet runs it (`dmsquash-live-root <downloaded
 * image>`), on the host with real files and the real sha256sum; dracut's functions (getarg,
 * fetch_url, die, warn, info) are stubs that log what they are asked.
 */
let dir: string;
const url = 'http://10.0.0.1/pxeforge/images/compute/v1/rootfs.squashfs';
const good = randomBytes(256 * 1024);
const tampered = Buffer.concat([good.subarray(0, good.length - 1), Buffer.from([good.at(-1)! ^ 1])]);

const stubs = `
getarg() {
	case "$1" in
	pxeforge.root_sha256=) printf '%s' "$EXPECTED" ;;
	root=) printf 'live:%s' "$URL" ;;
	esac
}
fetch_url() { echo "fetch $1" >>"$LOG"; cp -- "$SERVED" "$2"; }
die() { echo "die: $*" >>"$LOG"; exit 1; }
warn() { echo "warn: $*" >>"$LOG"; }
info() { echo "info: $*" >>"$LOG"; }
`;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-verify-root-'));
  await writeFile(path.join(dir, 'stubs.sh'), stubs);
  await writeFile(path.join(dir, dracutVerifyRootFile), dracutVerifyRootScript, { mode: 0o755 });
  // dracut's own dmsquash-live-root: here it says what it would mount.
  await writeFile(path.join(dir, 'real-live-root'), '#!/bin/sh\necho "mount $1" >>"$LOG"\n', { mode: 0o755 });
  await writeFile(path.join(dir, 'run.sh'), `. "${dir}/stubs.sh"\nset -- "$IMAGE"\n. "${dir}/${dracutVerifyRootFile}"\n`);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function check(options: { downloaded: Buffer; served: Buffer; expected: string | undefined }) {
  const image = path.join(dir, 'curl_fetch_url1', 'rootfs.squashfs');
  await execa('mkdir', ['-p', path.dirname(image)]);
  await writeFile(image, options.downloaded);
  await writeFile(path.join(dir, 'served'), options.served);
  const log = path.join(dir, 'log');
  const consoleFile = path.join(dir, 'console');
  await writeFile(log, '');
  await writeFile(consoleFile, '');
  const result = await execa('sh', [path.join(dir, 'run.sh')], {
    reject: false,
    env: {
      EXPECTED: options.expected ?? '',
      URL: url,
      IMAGE: image,
      SERVED: path.join(dir, 'served'),
      LOG: log,
      SLEEP: '0',
      PXEFORGE_LIVE_ROOT: path.join(dir, 'real-live-root'),
      PXEFORGE_RUN_DIR: path.join(dir, 'run'),
      PXEFORGE_CONSOLE: consoleFile,
    },
  });
  const verified = await readFile(path.join(dir, 'run', 'root-verified'), 'utf8').catch(() => undefined);
  return {
    exitCode: result.exitCode,
    log: (await readFile(log, 'utf8')).trim().split('\n'),
    console: (await readFile(consoleFile, 'utf8')).split('\n').filter((line) => line !== ''),
    verified,
    image,
  };
}

describe('the root check of the netboot initrd', () => {
  it('a root with the digest it was promoted with is mounted, and the check is recorded', async () => {
    const got = await check({ downloaded: good, served: good, expected: sha256(good) });
    expect(got.exitCode).toBe(0);
    expect(got.log).toEqual([
      expect.stringMatching(new RegExp(`^info: pxeforge: root image ${url} verified \\(sha256 ${sha256(good)}, in \\d+\\.\\d\\d s\\)$`)),
      `mount ${got.image}`,
    ]);
    expect(got.verified).toBe(`${sha256(good)}\n`);
    expect(got.console).toEqual([]);
  });

  it('a changed root is fetched again as often as the check allows, then refused: one console line, no mount', async () => {
    const got = await check({ downloaded: tampered, served: tampered, expected: sha256(good) });
    expect(got.exitCode).toBe(1);
    expect(got.log.filter((line) => line === `fetch ${url}`)).toHaveLength(rootRefetches);
    expect(got.log.some((line) => line.startsWith('mount'))).toBe(false);
    expect(got.log.at(-1)).toBe('die: pxeforge: the root image does not match pxeforge.root_sha256');
    expect(got.console).toEqual([
      `${rootMismatchLine} ${url}: expected sha256 ${sha256(good)}, got ${sha256(tampered)} (fetched ${rootRefetches + 1} times); not booting it`,
    ]);
    expect(got.verified).toBeUndefined();
    // The boot test stops at that line and names it.
    expect(readConsole(`[   9.1] dracut-initqueue[312]: x\n${got.console[0]}\n`, 1, { phases: {}, fatal: undefined }).fatal).toEqual({
      reason: 'root image digest mismatch',
      line: got.console[0],
    });
    expect(squashfs.consoleFatalMarkers.some(([marker]) => marker.test(got.console[0]!))).toBe(true);
  });

  it('a download spoiled on the way is fetched again and then mounted', async () => {
    const got = await check({ downloaded: good.subarray(0, 1000), served: good, expected: sha256(good) });
    expect(got.exitCode).toBe(0);
    expect(got.log.filter((line) => line.startsWith('fetch'))).toHaveLength(1);
    expect(got.log[0]).toMatch(/^warn: pxeforge: root image .* has sha256 [0-9a-f]{64}, not [0-9a-f]{64}; fetching it again \(1 of 3\)$/);
    expect(got.log.at(-1)).toBe(`mount ${got.image}`);
    expect(got.verified).toBe(`${sha256(good)}\n`);
  });

  it('without pxeforge.root_sha256 (a config pxeforge did not render) nothing is checked', async () => {
    const got = await check({ downloaded: tampered, served: tampered, expected: undefined });
    expect(got.exitCode).toBe(0);
    expect(got.log).toEqual([`mount ${got.image}`]);
    expect(got.verified).toBeUndefined();
  });

  it('a parameter that is not a digest refuses the root at once', async () => {
    for (const expected of ['abc', `${sha256(good).slice(0, 63)}Z`, '$(reboot)']) {
      const got = await check({ downloaded: good, served: good, expected });
      expect(got.exitCode).toBe(1);
      expect(got.log).toEqual(['die: pxeforge: pxeforge.root_sha256 is not a sha256 digest; refusing the root image']);
    }
  });

  it('the dracut module puts the check in the place of dmsquash-live-root, with sha256sum in the initrd', async () => {
    expect(dracutModuleSetup).toMatch(/inst_multiple [^\n]*\bsha256sum\b/);
    expect(dracutModuleSetup).toContain(`inst_script "$moddir/${dracutVerifyRootFile}" /sbin/dmsquash-live-root`);
    expect(squashfs.imagePrograms[`/usr/lib/dracut/modules.d/90pxeforge/${dracutVerifyRootFile}`]).toBe(dracutVerifyRootScript);
    // bash -n: the module and the check parse.
    expect((await execa('bash', ['-n', '-c', dracutModuleSetup], { reject: false })).exitCode).toBe(0);
    expect((await execa('sh', ['-n', '-c', dracutVerifyRootScript], { reject: false })).exitCode).toBe(0);
  });
});
