import { getDistro } from '../distros/registry.js';
import type { Emit } from '../events/events.js';
import { run } from '../exec/run.js';
import { commonImageFiles, commonImagePrograms, commonImageUnits } from '../formats/node-programs.js';
import { getFormat } from '../formats/registry.js';
import { netbootRecipeDriversConfig, netbootRecipeDriversFile } from '../formats/netboot-initrd.js';
import type { Recipe } from '../recipe/recipe.js';
import { chrootArgv } from './argv.js';
import { removeImagePath, writeImageFile } from '../rootfs/image-files.js';

export interface ConfigureTools {
  emit: Emit;
  signal: AbortSignal;
}

/**
 * Settings from the recipe, applied offline inside the image: accounts, services, locale,
 * timezone, and the host name left to DHCP. Runs inside withChroot (systemctl, useradd).
 */
export async function configureImage(root: string, recipe: Recipe, tools: ConfigureTools): Promise<string> {
  const chroot = (argv: string[]) => run(chrootArgv(root, argv), { ...tools, stage: 'configure' });
  for (const group of recipe.groups) {
    await chroot([
      'groupadd',
      ...(group.gid === undefined ? [] : ['--gid', String(group.gid)]),
      ...(group.system ? ['--system'] : []),
      '--',
      group.name,
    ]);
  }
  for (const user of recipe.users) {
    await chroot([
      'useradd',
      ...(user.uid === undefined ? [] : ['--uid', String(user.uid)]),
      ...(user.group === undefined ? ['--user-group'] : ['--gid', user.group]),
      ...(user.groups === undefined || user.groups.length === 0 ? [] : ['--groups', user.groups.join(',')]),
      ...(user.home === undefined ? [] : ['--home-dir', user.home]),
      '--shell',
      user.shell ?? '/bin/bash',
      ...(user.system ? ['--system'] : ['--create-home']),
      '--',
      user.name,
    ]);
  }
  for (const [verb, units] of [
    ['enable', recipe.services.enable],
    ['disable', recipe.services.disable],
    ['mask', recipe.services.mask],
  ] as const) {
    if (units.length > 0) await chroot(['systemctl', verb, '--', ...units]);
  }
  const distro = getDistro(recipe.base.distro);
  if (recipe.timezone !== undefined) await distro.configureTimezone(root, recipe.timezone);
  if (recipe.locale !== undefined) {
    await distro.configureLocale(root, recipe.locale, async (argv) => {
      await chroot(argv);
    });
  }
  // Every node gets its name from DHCP: no host name is baked into a shared image.
  await removeImagePath(root, '/etc/hostname');
  await writeImageFile(root, '/etc/hosts', '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n');
  const format = getFormat(recipe.output.format);
  for (const [file, content] of Object.entries({ ...commonImageFiles, ...format.imageFiles })) await writeImageFile(root, file, content);
  if (format.netbootInitrd && recipe.kernel.netbootDrivers.length > 0)
    await writeImageFile(root, netbootRecipeDriversFile, netbootRecipeDriversConfig(recipe.kernel.netbootDrivers));
  // pxeforge's own programs (node files and the boot record at boot): every image gets them, whatever its overlays hold.
  for (const [file, content] of Object.entries({ ...commonImagePrograms, ...format.imagePrograms }))
    await writeImageFile(root, file, content, 0o755);
  await chroot(['systemctl', 'enable', '--', ...commonImageUnits]);
  return `${recipe.services.enable.length} units enabled, ${recipe.users.length} users`;
}
