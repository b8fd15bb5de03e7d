import { createHash, randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import type { Manifest } from '../../src/store/manifest.js';
import { manifestRecord, testReportRecord } from './records.js';

/**
 * A recipe repository with a store and a TFTP root for promotion tests: small artifacts
 * made here stand in for built images (the tree never looks inside them).
 */
export interface TreeSite {
  dir: string;
  repo: string;
  store: string;
  tftp: string;
  remove(): Promise<void>;
}

export const defaultSiteYaml = (extra = '') => `store: store
tftpRoot: tftp
httpBaseUrl: http://10.0.2.2:8080
channels:
  staging: {}
  production: { protected: true }
nodes:
  cn001: "52:54:00:00:10:01"
  cn002: "52:54:00:00:10:02"
  cn003: "52:54:00:00:10:03"
nodeGroups:
  compute:
    image: compute
    channel: production
    hosts: ["cn[001-002]"]
  canary:
    image: tiny
    channel: staging
    macs: ["52:54:00:12:34:56"]
  gpu:
    image: compute
    channel: staging
    hosts: ["cn003"]
    firmware: uefi
    kernelArgs: "nouveau.modeset=0"
${extra}`;

export async function makeTreeSite(siteYaml = defaultSiteYaml(), base?: string): Promise<TreeSite> {
  const dir = await mkdtemp(path.join(base ?? tmpdir(), 'pxeforge-tree-'));
  const repo = path.join(dir, 'repo');
  await mkdir(path.join(repo, 'recipes'), { recursive: true });
  for (const name of ['tiny', 'compute']) await writeFile(path.join(repo, 'recipes', `${name}.yaml`), `name: ${name}\n`);
  await writeFile(path.join(repo, 'pxeforge.yaml'), siteYaml);
  return {
    dir,
    repo,
    store: path.join(repo, 'store'),
    tftp: path.join(repo, 'tftp'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** An image version in the store: small random artifacts and a manifest that describes them. */
export async function makeVersion(
  store: string,
  name: string,
  version: string,
  options: {
    format?: 'initramfs' | 'squashfs';
    size?: number;
    dirty?: boolean;
    tested?: 'passed' | 'failed' | 'other-artifacts';
    /** The recipe's base.arch recorded in the manifest (none: the recipe default). */
    arch?: 'amd64' | 'arm64';
  } = {},
): Promise<string> {
  const format = options.format ?? (name === 'compute' ? 'squashfs' : 'initramfs');
  const dir = path.join(store, 'images', name, version);
  await mkdir(dir, { recursive: true });
  const files = format === 'squashfs' ? ['vmlinuz', 'initrd.img', 'rootfs.squashfs'] : ['vmlinuz', 'initrd.img'];
  const artifacts: Manifest['artifacts'] = {};
  for (const file of files) {
    const data = randomBytes(options.size ?? 4096);
    await writeFile(path.join(dir, file), data);
    await chmod(path.join(dir, file), 0o444);
    artifacts[file] = { sha256: sha(data), size: data.length };
  }
  const manifest = manifestRecord({
    name,
    version,
    createdAt: new Date().toISOString(),
    inputsDigest: sha(Buffer.from(version)),
    inputs: {},
    git: { commit: 'a'.repeat(40), dirty: options.dirty ?? false },
    format,
    artifacts,
    kernel: {
      package: 'linux-image-amd64',
      version: '6.1.0-test',
      cmdline: format === 'squashfs' ? 'root=live:{rootfs_url} rd.live.image ip=dhcp console=ttyS0,115200' : 'console=ttyS0,115200',
    },
  });
  if (options.arch !== undefined) manifest.recipe.base = { arch: options.arch };
  await writeFile(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  if (options.tested !== undefined) {
    const tested = options.tested === 'other-artifacts' ? { ...artifacts, vmlinuz: { sha256: '0'.repeat(64), size: 1 } } : artifacts;
    const report = testReportRecord({
      name,
      version,
      via: 'direct',
      passed: options.tested !== 'failed',
      startedAt: new Date().toISOString(),
      durationMs: 30_000,
      artifacts: tested,
      checks: [],
    });
    await writeFile(path.join(dir, 'test-report.json'), JSON.stringify(report));
  }
  return version;
}

/** Every path under `dir` with its type and content digest (or link target): compare before and after. */
export async function snapshotTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (relative: string) => {
    const entries = await readdir(path.join(dir, relative), { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const rel = relative === '' ? entry.name : `${relative}/${entry.name}`;
      const full = path.join(dir, rel);
      if (entry.isDirectory()) {
        out[rel] = 'dir';
        await walk(rel);
      } else if (entry.isSymbolicLink()) out[rel] = `link ${await readlink(full)}`;
      else out[rel] = `file ${sha(await readFile(full))} ${(await lstat(full)).mode.toString(8)}`;
    }
  };
  await walk('');
  return out;
}
