import { readImageFile } from '../../rootfs/image-files.js';
import type { InstalledPackage } from '../backend.js';

/**
 * The image's installed packages, read from its dpkg database (`/var/lib/dpkg/status`),
 * resolved in the image like every image path (image-files.ts), rather than by a host
 * program that would follow the image's symlinks on the host. Missing database: none.
 */
export async function readDpkgStatus(root: string): Promise<InstalledPackage[]> {
  return parseDpkgStatus((await readImageFile(root, '/var/lib/dpkg/status')) ?? '');
}

/** Stanzas whose Status is `install ok installed` (dpkg-query's `ii`), sorted by name. */
export function parseDpkgStatus(text: string): InstalledPackage[] {
  const installed: InstalledPackage[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      const match = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (match !== null) fields.set(match[1]!.toLowerCase(), match[2]!.trim());
    }
    const [want, , state] = (fields.get('status') ?? '').split(/\s+/);
    const name = fields.get('package');
    if (name === undefined || want !== 'install' || state !== 'installed') continue;
    installed.push({ name, version: fields.get('version') ?? '', arch: fields.get('architecture') ?? '' });
  }
  return installed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.arch < b.arch ? -1 : 1));
}
