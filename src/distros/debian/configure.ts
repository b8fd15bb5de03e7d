import { UserError } from '../../errors/user-error.js';
import { replaceWithSymlink, statImagePath, writeImageFile } from '../../rootfs/image-files.js';
import type { RunInImage } from '../backend.js';

/** /etc/default/locale, and the locale generated when the image has locale-gen (package locales). */
export async function configureLocale(root: string, locale: string, runInImage: RunInImage): Promise<void> {
  await writeImageFile(root, '/etc/default/locale', `LANG=${locale}\n`);
  if ((await statImagePath(root, '/usr/sbin/locale-gen')) !== undefined) {
    await writeImageFile(root, '/etc/locale.gen', `${locale} ${locale.includes('UTF-8') ? 'UTF-8' : 'ISO-8859-1'}\n`);
    await runInImage(['locale-gen']);
  }
}

/**
 * The zone must be a file of the image's own tzdata, looked up inside the image (a link in
 * /usr/share/zoneinfo is followed there, never on the host); the recipe schema already
 * admits only zone names (Area/Location), never a path.
 */
export async function configureTimezone(root: string, timezone: string): Promise<void> {
  const zone = `/usr/share/zoneinfo/${timezone}`;
  if (!(await statImagePath(root, zone))?.isFile()) {
    throw new UserError('NO_TIMEZONE', `timezone \`${timezone}\` is not in the image`, {
      hint: 'add `tzdata` to packages.include, and check the zone name',
    });
  }
  await replaceWithSymlink(root, '/etc/localtime', zone);
  await writeImageFile(root, '/etc/timezone', `${timezone}\n`);
}
