import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, mkdir, open, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import tar from 'tar-stream';

import { UserError } from '../../errors/user-error.js';

/** What one inputs tar may hold at most; a build's inputs are recipes, overlays and hooks, far below. */
export const inputLimits = { bytes: 1024 ** 3, entries: 100_000 };

export interface Unpacked {
  entries: number;
  /** What was changed or left out on the way in (special bits, devices, FIFOs, hard links). */
  notes: string[];
}

/**
 * Unpacks the build inputs tar into `dest` (absent or empty) if, and only if, its bytes have
 * the digest `sha256`. The rules, all enforced here:
 *
 * - One read: the tar is opened once and every byte read goes through the hash and into the
 *   extractor; the result is unpacked into a private staging directory beside `dest` and
 *   renamed to `dest` only after the digest matched. Changing the file meanwhile cannot
 *   make us extract bytes other than those we hashed.
 * - Nothing leaves `dest`: absolute names and `..` are refused; no entry is written through
 *   a symlink (an entry whose parent path is a symlink, or a second entry with the same
 *   name, is refused); files are created with O_EXCL|O_NOFOLLOW. A symlink must point
 *   inside the inputs, except inside an overlay's tree (`overlays/<name>/…`), where it is
 *   a file of the image, copied verbatim and never followed here.
 * - Setuid, setgid and sticky bits are dropped; devices, FIFOs and hard links are skipped.
 *   Each is named in a note.
 * - At most `inputLimits` (bytes of content, entries) are unpacked.
 */
export async function unpackInputs(
  file: string,
  sha256: string,
  dest: string,
  limits: Partial<typeof inputLimits> = {},
): Promise<Unpacked> {
  await mkdir(path.dirname(dest), { recursive: true });
  const staging = `${dest}.unpacking-${randomBytes(6).toString('hex')}`;
  await mkdir(staging, { mode: 0o700 });
  try {
    const hash = createHash('sha256');
    const unpacker = entryPlacer(staging, { ...inputLimits, ...limits });
    const handle = await open(file, 'r').catch((error: unknown) => {
      throw mismatch(file, sha256, undefined, error);
    });
    const extract = tar.extract();
    extract.on('entry', (header, stream, next) => {
      unpacker.place(header, stream as unknown as Readable).then(
        () => next(),
        (error: unknown) => next(error as Error),
      );
    });
    await pipeline(
      handle.createReadStream(),
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          hash.update(chunk);
          yield chunk;
        }
      },
      extract,
    );
    const actual = hash.digest('hex');
    if (actual !== sha256) throw mismatch(file, sha256, actual);
    await unpacker.finish();
    await rename(staging, dest);
    return { entries: unpacker.entries(), notes: unpacker.notes };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

function mismatch(file: string, expected: string, actual: string | undefined, cause?: unknown): UserError {
  return new UserError(
    'INPUTS_MISMATCH',
    `the build inputs ${file} ${actual === undefined ? 'are missing' : `have sha256 ${actual}, not ${expected}`}`,
    {
      hint: 'the shared store must be the same filesystem on the admin host and in the pod (kubernetes.storage in pxeforge.yaml)',
      cause,
    },
  );
}

function unsafe(name: string, why: string): UserError {
  return new UserError('INPUTS_UNSAFE', `the build inputs hold ${JSON.stringify(name)}, ${why}`, {
    hint: 'the inputs tar is made by `pxeforge build --executor kubernetes`; a tar from anywhere else is refused',
  });
}

type Kind = 'directory' | 'file' | 'symlink';

/** Places tar entries under `root`, which no one else writes to. */
function entryPlacer(root: string, limits: typeof inputLimits) {
  const kinds = new Map<string, Kind>();
  const directoryModes = new Map<string, number>();
  const notes: string[] = [];
  let count = 0;
  let bytes = 0;

  const checkLimits = (name: string, size: number) => {
    count += 1;
    bytes += size;
    if (count > limits.entries) {
      throw new UserError('INPUTS_TOO_MANY', `the build inputs hold more than ${limits.entries} entries (at ${JSON.stringify(name)})`, {
        hint: "keep large or generated trees out of the recipe repository's overlays",
      });
    }
    if (bytes > limits.bytes) {
      throw new UserError('INPUTS_TOO_LARGE', `the build inputs hold more than ${limits.bytes} bytes (at ${JSON.stringify(name)})`, {
        hint: 'keep large files out of overlays: install them from packages, or fetch them in a hook',
      });
    }
  };

  /** Creates missing parents as directories; refuses a path through a symlink or a file. */
  const parents = async (name: string, parts: string[]) => {
    for (let depth = 1; depth < parts.length; depth += 1) {
      const prefix = parts.slice(0, depth).join('/');
      const kind = kinds.get(prefix);
      if (kind === 'symlink') throw unsafe(name, `a path through the symlink ${prefix}`);
      if (kind === 'file') throw unsafe(name, `a path under the file ${prefix}`);
      if (kind === undefined) {
        await mkdir(path.join(root, prefix), { mode: 0o700 });
        kinds.set(prefix, 'directory');
      }
    }
  };

  const place = async (header: tar.Header, stream: Readable) => {
    const name = header.name;
    const drained = new Promise<void>((resolve) => stream.on('end', resolve));
    const skip = async (note?: string) => {
      if (note !== undefined) notes.push(note);
      stream.resume();
      await drained;
    };
    const parts = entryParts(name);
    if (parts === undefined) throw unsafe(name, 'a path outside the recipe repository');
    const relative = parts.join('/');
    checkLimits(name, header.size ?? 0);
    const kind = header.type === 'file' || header.type === 'directory' || header.type === 'symlink' ? header.type : undefined;
    if (kind === undefined) return skip(`${relative}: a ${header.type ?? 'special'} entry, skipped`);
    const existing = kinds.get(relative);
    if (existing !== undefined && !(existing === 'directory' && kind === 'directory'))
      throw unsafe(name, 'a second entry with the same name');
    await parents(name, parts);
    const target = path.join(root, relative);
    const mode = (header.mode ?? (kind === 'directory' ? 0o755 : 0o644)) & 0o7777;
    if ((mode & 0o7000) !== 0 && kind !== 'symlink')
      notes.push(
        `${relative}: setuid/setgid/sticky bits dropped (mode ${mode.toString(8)} → ${(mode & 0o777).toString(8).padStart(4, '0')})`,
      );
    kinds.set(relative, kind);
    if (kind === 'directory') {
      if (existing === undefined) await mkdir(target, { mode: 0o700 });
      directoryModes.set(target, mode & 0o777);
      return skip();
    }
    if (kind === 'symlink') {
      const link = header.linkname ?? '';
      if (leavesInputs(parts, link) && !isOverlayContent(parts))
        throw unsafe(name, `a symlink to ${JSON.stringify(link)}, outside the recipe repository`);
      await symlink(link, target);
      return skip();
    }
    const handle = await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    await handle.chmod(mode & 0o777);
    await pipeline(stream, handle.createWriteStream());
  };

  return {
    place,
    notes,
    entries: () => count,
    /** Directory modes last (deepest first): a read-only directory must not stop its own entries. */
    async finish() {
      for (const [dir, mode] of [...directoryModes].sort(([a], [b]) => b.length - a.length)) await chmod(dir, mode);
    },
  };
}

/** The components of a relative entry name, or undefined for an absolute name or one with `..`. */
function entryParts(name: string): string[] | undefined {
  if (name.startsWith('/') || name.includes('\0')) return undefined;
  const parts = name.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.length === 0 || parts.includes('..')) return undefined;
  return parts;
}

function leavesInputs(parts: string[], link: string): boolean {
  if (link === '' || path.posix.isAbsolute(link)) return true;
  const resolved = path.posix.normalize(path.posix.join(...parts.slice(0, -1), link));
  return resolved === '..' || resolved.startsWith('../');
}

/** Below an overlay's own directory: files of the image, not of the repository. */
function isOverlayContent(parts: string[]): boolean {
  return parts[0] === 'overlays' && parts.length >= 3;
}
