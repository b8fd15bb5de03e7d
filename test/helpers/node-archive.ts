import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { execa } from 'execa';

import { nodeStagingDir, type NodeFile } from '../../src/nodes/node-file.js';

/** A node file as computeNodeFiles gives it: root's, 0644, not secret, unless `extra` says otherwise. */
export function nodeFile(nodePath: string, content: string, extra: Partial<NodeFile> = {}): NodeFile {
  return {
    path: nodePath,
    kind: 'file',
    content: Buffer.from(content),
    uid: 0,
    gid: 0,
    mode: 0o644,
    source: 'test',
    secret: false,
    ...extra,
  };
}

/** Writes `text` at `relative` under `root`, making its directories. */
export async function writeUnder(root: string, relative: string, text: string | Buffer, mode?: number): Promise<void> {
  const file = path.join(root, relative);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text, mode === undefined ? undefined : { mode });
}

export type ArchiveEntry = Pick<NodeFile, 'path' | 'kind' | 'uid' | 'gid' | 'mode' | 'explicit'> & { content?: string };

/**
 * A node archive as the tree delivers it: a GNU cpio newc of the staging layout
 * (`.pxeforge-node/root/<path>`, `.pxeforge-node/explicit-dirs`), owners and modes as given
 * (parents not given are root's, 0755).
 * Needs root (chown).
 */
export async function makeNodeArchive(entries: readonly ArchiveEntry[], output: string): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-node-archive-'));
  try {
    const staging = path.join(dir, nodeStagingDir);
    await mkdir(path.join(staging, 'root'), { recursive: true, mode: 0o700 });
    await chmod(staging, 0o700);
    for (const entry of entries) {
      const target = path.join(staging, 'root', entry.path);
      if (entry.kind === 'directory') await mkdir(target, { recursive: true });
      else {
        await mkdir(path.dirname(target), { recursive: true });
        await writeFile(target, entry.content ?? '');
      }
      await chown(target, entry.uid, entry.gid);
      await chmod(target, entry.mode);
    }
    const explicit = entries.filter((entry) => entry.explicit === true).map((entry) => `${entry.path}\n`);
    await writeFile(path.join(staging, 'explicit-dirs'), explicit.join(''), { mode: 0o600 });
    const list = await execa('find', [nodeStagingDir], { cwd: dir });
    await execa('cpio', ['--create', '--format=newc', '--quiet', `--file=${output}`], { cwd: dir, input: `${list.stdout}\n` });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
