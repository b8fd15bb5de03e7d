import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, readlink, rename } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

import tar from 'tar-stream';

/**
 * The files a build depends on (recipe and parents, package sets, overlays and their
 * metadata, hooks, pxeforge.yaml), packed as one tar stream with tar-stream: sorted, with
 * fixed timestamps and owners, so equal inputs give an equal tar and an equal digest. The
 * pod unpacks it with `unpackInputs` (unpack-inputs.ts), which accepts only the bytes it hashed.
 */
export async function packInputs(
  repoRoot: string,
  sources: readonly string[],
  outDir: string,
): Promise<{ file: string; sha256: string; entries: number }> {
  const entries: { name: string; kind: 'file' | 'directory' | 'symlink'; mode: number; target?: string }[] = [];
  const walk = async (relative: string): Promise<void> => {
    const info = await lstat(path.join(repoRoot, relative));
    if (info.isSymbolicLink())
      entries.push({ name: relative, kind: 'symlink', mode: 0o777, target: await readlink(path.join(repoRoot, relative)) });
    else if (info.isDirectory()) {
      entries.push({ name: relative, kind: 'directory', mode: info.mode & 0o7777 });
      for (const name of (await readdir(path.join(repoRoot, relative))).sort()) await walk(path.posix.join(relative, name));
    } else if (info.isFile()) entries.push({ name: relative, kind: 'file', mode: info.mode & 0o7777 });
  };
  for (const source of [...new Set(sources)].sort()) await walk(source);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  await mkdir(outDir, { recursive: true });
  // Unique per call: concurrent builds in one process pack at the same moment.
  const staged = path.join(outDir, `.incoming-${process.pid}-${randomBytes(8).toString('hex')}.tar`);
  const pack = tar.pack();
  const hash = createHash('sha256');
  const written = pipeline(
    pack,
    async function* (source) {
      for await (const chunk of source) {
        hash.update(chunk as Buffer);
        yield chunk;
      }
    },
    createWriteStream(staged),
  );
  const header = { mtime: new Date(0), uid: 0, gid: 0, uname: 'root', gname: 'root' };
  for (const entry of entries) {
    if (entry.kind === 'file') {
      const size = (await lstat(path.join(repoRoot, entry.name))).size;
      const sink = pack.entry({ ...header, name: entry.name, type: 'file', mode: entry.mode, size });
      await pipeline(createReadStream(path.join(repoRoot, entry.name)), sink);
    } else if (entry.kind === 'directory') {
      pack.entry({ ...header, name: `${entry.name}/`, type: 'directory', mode: entry.mode });
    } else {
      pack.entry({ ...header, name: entry.name, type: 'symlink', mode: entry.mode, linkname: entry.target });
    }
  }
  pack.finalize();
  await written;
  const sha256 = hash.digest('hex');
  const file = path.join(outDir, `${sha256}.tar`);
  await rename(staged, file);
  return { file, sha256, entries: entries.length };
}

export { inputLimits, unpackInputs, type Unpacked } from './unpack-inputs.js';
