import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { projectRoot } from '../helpers/cli.js';

/**
 * The boot storm benchmark's core (scripts/bench-boot-storm.mjs) with 3 clients and small files:
 * real tftpd-hpa and nginx, real curl clients. The benchmark records every process it starts in a
 * pids file; afterwards none of them, nor any process of the servers' own process groups (tftpd-hpa's
 * per-transfer children, nginx's workers), may still run.
 */
const execFileP = promisify(execFile);
const script = path.join(projectRoot, 'scripts/bench-boot-storm.mjs');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-storm-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Recorded = { pids: { kind: string; pid: number }[]; work: string };

async function recorded(file: string): Promise<Recorded> {
  const lines = (await readFile(file, 'utf8')).trim().split('\n');
  const work = lines.find((line) => line.startsWith('dir '))?.slice(4) ?? '';
  const pids = lines
    .filter((line) => !line.startsWith('dir '))
    .map((line) => ({ kind: line.split(' ')[0]!, pid: Number(line.split(' ')[1]) }));
  return { pids, work };
}

/** The state letter of a process, or undefined when there is none (a zombie is gone for our purpose). */
function state(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0];
  } catch {
    return undefined;
  }
}
const running = (pid: number) => state(pid) !== undefined && state(pid) !== 'Z';

/** Running members of the process groups the benchmark gave its servers (their leaders' pids). */
function groupMembers(pgids: number[]): number[] {
  const members: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (pgids.includes(Number(fields[2])) && fields[0] !== 'Z') members.push(Number(name));
    } catch {}
  }
  return members;
}

function expectAllStopped({ pids, work }: Recorded) {
  const kinds = new Set(pids.map((entry) => entry.kind));
  for (const kind of ['tftpd', 'nginx', 'nginx-worker', 'client']) expect(kinds, kind).toContain(kind);
  expect(pids.filter((entry) => running(entry.pid))).toEqual([]);
  const servers = pids.filter((entry) => entry.kind === 'tftpd' || entry.kind === 'nginx').map((entry) => entry.pid);
  expect(groupMembers(servers)).toEqual([]);
  expect(work).toMatch(/pxeforge-bench-storm-/);
  expect(existsSync(work)).toBe(false);
}

describe('boot storm benchmark', () => {
  it('3 TFTP and 3 HTTP clients get the right bytes, the figures are printed, and nothing it started is left', async () => {
    const pidsFile = path.join(dir, 'pids-run');
    const { stdout } = await execFileP(
      'node',
      [
        script,
        '--clients',
        '3',
        '--kernel-size',
        '300K',
        '--initrd-size',
        '2M',
        '--tftp-initrd-size',
        '700K',
        '--squashfs-size',
        '3M',
        '--verify',
        '--json',
        '--pids-file',
        pidsFile,
      ],
      { timeout: 60_000 },
    );
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      files: Record<'kernel' | 'tftpInitrd' | 'squashfs', { size: number; sha256: string }>;
      results: { protocol: string; clients: number; eachBytes: number; failures: number; digests: string[][] }[];
    };
    const { kernel, tftpInitrd, squashfs } = result.files;
    expect([kernel.size, tftpInitrd.size, squashfs.size]).toEqual([300_000, 700_000, 3_000_000]);
    expect(new Set([kernel.sha256, tftpInitrd.sha256, squashfs.sha256]).size).toBe(3);
    const [tftp, http] = result.results;
    // Each client's downloads, hashed after the transfer, equal what was served.
    expect(tftp).toMatchObject({ protocol: 'tftp', clients: 3, eachBytes: 1_000_000, failures: 0 });
    expect(tftp!.digests).toEqual(Array(3).fill([kernel.sha256, tftpInitrd.sha256]));
    expect(http).toMatchObject({ protocol: 'http', clients: 3, eachBytes: 3_000_000, failures: 0 });
    expect(http!.digests).toEqual(Array(3).fill([squashfs.sha256]));
    // The human table: one row per protocol with wall time, MB/s, slowest and median client, failures.
    expect(stdout).toMatch(
      /protocol +clients +each \(MB\) +wall \(s\) +aggregate \(MB\/s\) +slowest client \(s\) +median client \(s\) +failures/,
    );
    expect(stdout).toMatch(/^ +tftp +3 +1\.0 +\d+\.\d\d +\d+\.\d +\d+\.\d\d +\d+\.\d\d +0$/m);
    expect(stdout).toMatch(/^ +http +3 +3\.0 +\d+\.\d\d +\d+\.\d +\d+\.\d\d +\d+\.\d\d +0$/m);
    expect(stdout).toContain('an initrd of 0.7 MB (--tftp-initrd-size');
    expectAllStopped(await recorded(pidsFile));
  }, 60_000);

  it('SIGINT while clients are fetching stops tftpd-hpa, nginx and the clients and removes its directory', async () => {
    const pidsFile = path.join(dir, 'pids-interrupted');
    const child = spawn(
      'node',
      [
        script,
        '--clients',
        '3',
        '--protocols',
        'tftp',
        '--kernel-size',
        '150M',
        '--initrd-size',
        '1K',
        '--squashfs-size',
        '1K',
        '--tftp-initrd-size',
        '1K',
        '--pids-file',
        pidsFile,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    // Interrupt once all three clients run.
    for (let waited = 0; ; waited += 20) {
      const text = existsSync(pidsFile) ? readFileSync(pidsFile, 'utf8') : '';
      if ((text.match(/^client /gm) ?? []).length === 3) break;
      expect(waited, 'clients started').toBeLessThan(30_000);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const before = await recorded(pidsFile);
    const clients = before.pids.filter((entry) => entry.kind === 'client');
    expect(clients.filter((entry) => running(entry.pid)).length).toBeGreaterThan(0);
    // tftpd-hpa forks one child per transfer into its group: they are stopped too.
    const tftpd = before.pids.find((entry) => entry.kind === 'tftpd')!.pid;
    for (let waited = 0; groupMembers([tftpd]).length < 2; waited += 20) {
      expect(waited, 'a transfer started').toBeLessThan(30_000);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('SIGINT, stopping servers and clients');
    expectAllStopped(await recorded(pidsFile));
  }, 60_000);
});
