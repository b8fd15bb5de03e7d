import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

import tar from 'tar-stream';

import { fileSha256 } from '../../build/digest.js';
import { UserError } from '../../errors/user-error.js';

/**
 * The files a build depends on (recipe and parents, package sets, overlays and their
 * metadata, hooks, pxeforge.yaml), packed as one tar stream with tar-stream: sorted, with
 * fixed timestamps and owners, so equal inputs give an equal tar and an equal digest. The
 * pod checks the digest before it unpacks anything.
 */
export async function packInputs(repoRoot: string, sources: readonly string[], outDir: string): Promise<{ file: string; sha256: string; entries: number }> {
  const entries: { name: string; kind: 'file' | 'directory' | 'symlink'; mode: number; target?: string }[] = [];
  const walk = async (relative: string): Promise<void> => {
    const info = await lstat(path.join(repoRoot, relative));
    if (info.isSymbolicLink()) entries.push({ name: relative, kind: 'symlink', mode: 0o777, target: await readlink(path.join(repoRoot, relative)) });
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
  const written = pipeline(pack, async function* (source) {
    for await (const chunk of source) {
      hash.update(chunk as Buffer);
      yield chunk;
    }
  }, createWriteStream(staged));
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

/** Checks the tar against its digest, then unpacks it into `dest` (no entry may leave it). */
export async function unpackInputs(file: string, sha256: string, dest: string): Promise<number> {
  const actual = await fileSha256(file).catch(() => undefined);
  if (actual !== sha256) {
    throw new UserError('INPUTS_MISMATCH', `the build inputs ${file} ${actual === undefined ? 'are missing' : `have sha256 ${actual}, not ${sha256}`}`, {
      hint: 'the shared store must be the same filesystem on the admin host and in the pod (kubernetes.storage in pxeforge.yaml)',
    });
  }
  await mkdir(dest, { recursive: true });
  const extract = tar.extract();
  let count = 0;
  let unsafe: UserError | undefined;
  extract.on('entry', (header, stream, next) => {
    const name = path.posix.normalize(header.name);
    const target = path.join(dest, name);
    if (unsafe !== undefined || path.isAbsolute(header.name) || name.startsWith('../') || !target.startsWith(`${dest}${path.sep}`)) {
      // Nothing more is written once one entry would leave the destination; the tar is refused after.
      unsafe ??= new UserError('INPUTS_UNSAFE', `the build inputs hold ${header.name}, outside the recipe repository`);
      stream.on('end', () => next()).resume();
      return;
    }
    count += 1;
    const done = (error?: unknown) => next(error as Error | undefined);
    if (header.type === 'directory') {
      stream.resume();
      mkdir(target, { recursive: true, mode: header.mode }).then(() => done(), done);
    } else if (header.type === 'symlink') {
      stream.resume();
      mkdir(path.dirname(target), { recursive: true })
        .then(() => rm(target, { force: true }))
        .then(() => symlink(header.linkname ?? '', target))
        .then(() => done(), done);
    } else if (header.type === 'file') {
      mkdir(path.dirname(target), { recursive: true })
        .then(() => pipeline(stream, createWriteStream(target, { mode: header.mode })))
        .then(() => done(), done);
    } else {
      stream.resume();
      done();
    }
  });
  await pipeline(createReadStream(file), extract);
  if (unsafe !== undefined) throw unsafe;
  return count;
}

