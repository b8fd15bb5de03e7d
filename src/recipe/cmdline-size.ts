import { rootfsUrlPlaceholder } from '../formats/format.js';
import { getFormat } from '../formats/registry.js';
import type { Recipe } from './recipe.js';

export { rootfsUrlPlaceholder } from '../formats/format.js';

/** The image's kernel command line: what its output format adds (e.g. the live root options), then the recipe's. */
export function kernelCmdline(recipe: Recipe): string {
  const added = getFormat(recipe.output.format).kernelParameters;
  return [...added, recipe.kernel.cmdline].filter((part) => part !== '').join(' ');
}

/**
 * Boot loaders and the x86 kernel keep at most 2,048 bytes of command line
 * (COMMAND_LINE_SIZE); beyond that, parameters are cut off silently, often the last ones,
 * which are the recipe's. So `validate` refuses a command line that would not fit, counted
 * as the node's kernel gets it: the recipe's `kernel.cmdline` after `extends`, what
 * pxeforge adds (root=live:<url> and the live options for squashfs, with the URL counted
 * as `rootfsUrlReserve` bytes since it is only known at promote), iPXE's
 * `initrd=initrd.img`, a node group's `kernelArgs`, and the `pxeforge.*` parameters every
 * config carries (docs/fleet.md), counted as `bootParametersReserve` bytes: image, version,
 * generation, group, channel and the digests of the root and of a node's archive.
 */
export const maxCmdlineBytes = 2048;
export const rootfsUrlReserve = 256;
export const bootParametersReserve = 320;

export function cmdlineBytes(recipe: Recipe, kernelArgs = ''): number {
  const line = [
    'initrd=initrd.img',
    kernelCmdline(recipe).replace(rootfsUrlPlaceholder, 'x'.repeat(rootfsUrlReserve)),
    kernelArgs,
    'x'.repeat(bootParametersReserve - 1),
  ]
    .filter((part) => part !== '')
    .join(' ');
  return Buffer.byteLength(line);
}

/** The message for a command line over the limit, or undefined when it fits. */
export function cmdlineSizeProblem(recipe: Recipe, kernelArgs = ''): string | undefined {
  const bytes = cmdlineBytes(recipe, kernelArgs);
  if (bytes <= maxCmdlineBytes) return undefined;
  const url = getFormat(recipe.output.format).rootUrlArtifact !== undefined ? `, root=live:<url> counted as ${rootfsUrlReserve} bytes` : '';
  return (
    `the kernel command line is ${bytes.toLocaleString('en-US')} bytes with what pxeforge adds (initrd=initrd.img${url}, the pxeforge.* parameters counted as ${bootParametersReserve} bytes); ` +
    `boot loaders cut it off beyond ${maxCmdlineBytes.toLocaleString('en-US')} bytes`
  );
}

export const cmdlineSizeHint = 'move settings into the image (sysctl.d, modprobe.d, an overlay) instead of kernel parameters';
