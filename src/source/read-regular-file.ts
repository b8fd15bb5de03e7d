import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/**
 * Reads a file only if it is a regular file when it is opened: O_NOFOLLOW makes the kernel
 * refuse a symlink at that moment (also one swapped in after an earlier look), and a device,
 * socket or pipe is refused without blocking on it.
 */
export async function readRegularFile(
  file: string,
): Promise<{ content: Buffer } | { refused: 'missing' | 'symlink' | 'not a regular file' }> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(
    (error: NodeJS.ErrnoException) => error,
  );
  if (!('fd' in handle)) {
    if (handle.code === 'ENOENT') return { refused: 'missing' };
    if (handle.code === 'ELOOP') return { refused: 'symlink' };
    throw handle;
  }
  try {
    if (!(await handle.stat()).isFile()) return { refused: 'not a regular file' };
    return { content: await handle.readFile() };
  } finally {
    await handle.close();
  }
}
