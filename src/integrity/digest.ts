import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';

export function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Digest of a JSON value with sorted keys, so key order never changes a cache key. */
export function digestJson(value: unknown): string {
  return sha256(stableJson(value));
}

export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_, item: unknown) =>
    item !== null && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : item,
  );
}

/** Streams a file through sha256 (images are large: never read them whole). */
export async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Each file below `source` (a file or a directory, relative to `repoRoot`) as the build
 * sees it: `x:`/`-:` (executable bit, all git keeps) and the content digest, `l:` and the
 * link target, `d:` for a directory. Keys are repository-relative paths.
 */
export async function sourceFileDigests(repoRoot: string, source: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (relative: string): Promise<void> => {
    const absolute = path.join(repoRoot, relative);
    const info = await lstat(absolute);
    if (info.isSymbolicLink()) {
      out[relative] = `l:${await readlink(absolute)}`;
    } else if (info.isDirectory()) {
      out[relative] = 'd:';
      for (const name of (await readdir(absolute)).sort()) await walk(path.posix.join(relative, name));
    } else if (info.isFile()) {
      out[relative] = `${info.mode & 0o111 ? 'x' : '-'}:${sha256(await readFile(absolute))}`;
    }
  };
  await walk(source);
  return out;
}
