import { quoted } from '../errors/quote-text.js';
import { UserError } from '../errors/user-error.js';
import { amd64 } from './amd64.js';
import type { Architecture } from './architecture.js';
import { arm64 } from './arm64.js';

export type { Architecture } from './architecture.js';

/** Every architecture pxeforge builds and boots, by Debian name. */
export const arches = { amd64, arm64 } as const satisfies Record<string, Architecture>;

export type ArchName = keyof typeof arches;

/** The names, for schema enums (recipe `base.arch`, node group `arch`). */
export const archNames = Object.keys(arches) as [ArchName, ...ArchName[]];

export const defaultArch: ArchName = 'amd64';

export function isArchName(name: string): name is ArchName {
  return Object.hasOwn(arches, name);
}

/** The architecture of that name; throws for a name no descriptor has. */
export function getArch(name: string): Architecture {
  if (!isArchName(name)) {
    throw new UserError('UNKNOWN_ARCH', `unknown architecture ${quoted(name)}`, { hint: `known architectures: ${archNames.join(', ')}` });
  }
  return arches[name];
}
