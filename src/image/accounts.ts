import type { Accounts } from '../nodes/node-file.js';
import { readImageFile } from '../rootfs/image-files.js';

/**
 * The image's users and groups (name → id), from its /etc/passwd and /etc/group, read as the
 * image would read them (image-files.ts: a link never leads out of the image root). Node
 * files name owners; their archives carry these ids.
 */
export async function imageAccounts(root: string): Promise<Accounts> {
  return {
    users: parseIdFile((await readImageFile(root, '/etc/passwd')) ?? ''),
    groups: parseIdFile((await readImageFile(root, '/etc/group')) ?? ''),
  };
}

/**
 * `name:password:id:…` lines (passwd and group share the first three fields). Comments,
 * blank lines, NIS entries (`+`, `-`) and malformed lines are skipped; the first entry of a
 * name wins, as for getpwnam(3).
 */
export function parseIdFile(text: string): Record<string, number> {
  const ids: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    if (name === undefined || id === undefined || name === '' || /^[#+-]/.test(name)) continue;
    if (!/^\d+$/.test(id) || Object.hasOwn(ids, name)) continue;
    const value = Number(id);
    if (Number.isSafeInteger(value)) ids[name] = value;
  }
  return ids;
}
