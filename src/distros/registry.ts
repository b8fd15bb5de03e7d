import { UserError } from '../errors/user-error.js';
import type { DistroBackend } from './backend.js';
import { debian } from './debian/debian.js';

/** Every distro pxeforge builds images of, by the name recipes give in `base.distro`. */
export const distros = { debian } satisfies Record<string, DistroBackend>;

export type DistroName = keyof typeof distros;

export const distroNames = Object.keys(distros) as [DistroName, ...DistroName[]];

export function isDistroName(name: string): name is DistroName {
  return Object.hasOwn(distros, name);
}

/** The backend for `name` (a recipe's `base.distro`). */
export function getDistro(name: string): DistroBackend {
  if (!isDistroName(name)) {
    throw new UserError('UNKNOWN_DISTRO', `unknown distro \`${name}\``, { hint: `pxeforge builds: ${distroNames.join(', ')}` });
  }
  return distros[name] as DistroBackend;
}
