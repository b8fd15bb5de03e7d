import { access, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { UserError } from '../errors/user-error.js';
import type { Emit } from '../events/events.js';
import { run } from '../exec/run.js';
import type { Recipe } from '../recipe/recipe.js';

export interface ConfigureTools {
  emit: Emit;
  signal: AbortSignal;
}

/**
 * Settings from the recipe, applied offline inside the image: accounts, services, locale,
 * timezone, and the host name left to DHCP. Runs inside withChroot (systemctl, useradd).
 */
export async function configureImage(root: string, recipe: Recipe, tools: ConfigureTools): Promise<string> {
  const chroot = (argv: string[]) => run(['chroot', root, ...argv], { ...tools, stage: 'configure' });
  for (const group of recipe.groups) {
    await chroot(['groupadd', ...(group.gid === undefined ? [] : ['--gid', String(group.gid)]), ...(group.system ? ['--system'] : []), '--', group.name]);
  }
  for (const user of recipe.users) {
    await chroot([
      'useradd',
      ...(user.uid === undefined ? [] : ['--uid', String(user.uid)]),
      ...(user.group === undefined ? ['--user-group'] : ['--gid', user.group]),
      ...(user.groups === undefined || user.groups.length === 0 ? [] : ['--groups', user.groups.join(',')]),
      ...(user.home === undefined ? [] : ['--home-dir', user.home]),
      '--shell', user.shell ?? '/bin/bash',
      ...(user.system ? ['--system'] : ['--create-home']),
      '--', user.name,
    ]);
  }
  for (const [verb, units] of [['enable', recipe.services.enable], ['disable', recipe.services.disable], ['mask', recipe.services.mask]] as const) {
    if (units.length > 0) await chroot(['systemctl', verb, '--', ...units]);
  }
  if (recipe.timezone !== undefined) {
    const zone = path.join(root, 'usr/share/zoneinfo', recipe.timezone);
    if (!(await access(zone).then(() => true, () => false))) {
      throw new UserError('NO_TIMEZONE', `timezone \`${recipe.timezone}\` is not in the image`, { hint: 'add `tzdata` to packages.include' });
    }
    await rm(path.join(root, 'etc/localtime'), { force: true });
    await symlink(`/usr/share/zoneinfo/${recipe.timezone}`, path.join(root, 'etc/localtime'));
    await writeFile(path.join(root, 'etc/timezone'), `${recipe.timezone}\n`);
  }
  if (recipe.locale !== undefined) {
    await writeFile(path.join(root, 'etc/default/locale'), `LANG=${recipe.locale}\n`);
    if (await access(path.join(root, 'usr/sbin/locale-gen')).then(() => true, () => false)) {
      await writeFile(path.join(root, 'etc/locale.gen'), `${recipe.locale} ${recipe.locale.includes('UTF-8') ? 'UTF-8' : 'ISO-8859-1'}\n`);
      await chroot(['locale-gen']);
    }
  }
  // Every node gets its name from DHCP: no host name is baked into a shared image.
  await rm(path.join(root, 'etc/hostname'), { force: true });
  await writeFile(path.join(root, 'etc/hosts'), '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n');
  if (recipe.output.format === 'squashfs') await writeNetbootDracutConfig(root);
  return `${recipe.services.enable.length} units enabled, ${recipe.users.length} users`;
}

/** dracut settings for a squashfs root fetched over HTTP (see the README: network-legacy). */
export const netbootDracutConfig = [
  '# pxeforge: initramfs that fetches the squashfs root over HTTP (root=live:<url>)',
  'hostonly="no"',
  'add_dracutmodules+=" livenet dmsquash-live network-legacy "',
  'omit_dracutmodules+=" network-manager systemd-networkd "',
  'add_drivers+=" virtio_net virtio_pci virtio_blk e1000 e1000e igb ixgbe squashfs loop overlay "',
  'compress="zstd"',
  '',
].join('\n');

async function writeNetbootDracutConfig(root: string): Promise<void> {
  const dir = path.join(root, 'etc/dracut.conf.d');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, '90-pxeforge-netboot.conf'), netbootDracutConfig);
}
