import { UserError } from '../errors/user-error.js';
import { type OutputFormat, rootfsUrlPlaceholder } from './format.js';
import { initramfs } from './initramfs.js';
import { squashfs } from './squashfs.js';

/** Every output format by name. A new format: its own file, and one line here. */
export const formats = {
  squashfs,
  initramfs,
} as const satisfies Record<string, OutputFormat>;

export type FormatName = keyof typeof formats;

/** The format names, for the recipe schema's enum. */
export const formatNames = Object.keys(formats) as [FormatName, ...FormatName[]];

/**
 * The parameters that carry a fetched root's URL, up to the URL (`root=live:`): what
 * `verify` looks for in a boot config to check the artifact it names.
 */
export const rootUrlParameters: readonly string[] = Object.values(formats).flatMap((format) =>
  format.kernelParameters.flatMap((parameter) => {
    const at = parameter.indexOf(rootfsUrlPlaceholder);
    return at === -1 ? [] : [parameter.slice(0, at)];
  }),
);

/**
 * The root a node of this format fetches over HTTP (the squashfs), with its digest among a
 * version's artifacts (undefined when they do not list it); undefined when the root travels in the initrd.
 */
export function fetchedRoot(
  format: string,
  artifacts: Readonly<Record<string, { sha256: string }>>,
): { artifact: string; sha256: string | undefined } | undefined {
  const artifact = getFormat(format).rootUrlArtifact;
  return artifact === undefined ? undefined : { artifact, sha256: artifacts[artifact]?.sha256 };
}

export function getFormat(name: string): OutputFormat {
  if (!Object.hasOwn(formats, name)) {
    throw new UserError('UNKNOWN_FORMAT', `unknown output format \`${name}\``, { hint: `known formats: ${formatNames.join(', ')}` });
  }
  return formats[name as FormatName];
}
