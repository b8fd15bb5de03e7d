import { z } from 'zod';

import { distros } from '../distros/registry.js';
import { quoted } from '../errors/quote-text.js';

/**
 * Names that end up in argv arrays, file names, and generated boot scripts (iPXE, GRUB,
 * pxelinux). Each pattern admits only what its domain allows, so nothing from a recipe can
 * inject a shell word, a path component or a boot-script command.
 */

/** Image and recipe names: also a directory name in the store and the PXE tree. */
export const imageName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, {
  error: 'must be lowercase letters, digits and dashes (at most 63), starting with a letter or digit',
});

/**
 * A package name as some distro backend admits it (src/distros): the schema is checked before
 * `extends` says which distro a recipe builds, and package sets serve every recipe.
 */
const packageNames = Object.values(distros).map((distro) => distro.packageName);
export const packageSpec = z
  .string()
  .regex(
    packageNames.length === 1 ? packageNames[0]!.pattern : new RegExp(packageNames.map(({ pattern }) => `(?:${pattern.source})`).join('|')),
    { error: `is not ${packageNames.map(({ description }) => description).join(' or ')}` },
  );

/** A package set, overlay or other name that is also a file or directory name. */
export const fileName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
  error: 'must be a plain name (letters, digits, `.`, `_`, `-`), not a path',
});

/** systemd unit name; `.service` may be left out. */
export const unitName = z.string().regex(/^[A-Za-z0-9:_.@\\-]+$/, { error: 'is not a systemd unit name' });

/**
 * A tz database zone name: `Area/Location` segments of letters, digits, `_`, `+`, `-`
 * (Europe/Berlin, Etc/GMT+5, UTC). Never a path: no leading `/`, no `.` or `..`, no empty
 * segment, so `/usr/share/zoneinfo/<name>` stays in the zoneinfo tree (configure then
 * looks it up inside the image, see build/configure.ts).
 */
export const timezoneName = z
  .string()
  .max(64)
  .regex(/^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/, { error: 'is not a timezone name (Area/Location, e.g. Europe/Berlin)' });

/** A kernel module name as modprobe and dracut take it (e.g. `ib_ipoib`, `mlx5_ib`). */
export const kernelModuleName = z
  .string()
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, { error: 'is not a kernel module name (letters, digits, _ and -)' });

/** One kernel command-line parameter. */
const cmdlineToken = /^[A-Za-z0-9_.,:/=+@%~-]+$/;

/**
 * A kernel command line. Each word must avoid characters that a generated iPXE, GRUB or
 * pxelinux script would interpret (`$`, `;`, quotes, backslashes, newlines, `#`, ...).
 */
export const kernelCmdline = z.string().superRefine((value, ctx) => {
  for (const word of value.split(' ').filter((w) => w !== '')) {
    if (!cmdlineToken.test(word)) {
      const bad = [...word].find((ch) => !cmdlineToken.test(ch)) ?? word;
      ctx.addIssue({
        code: 'custom',
        message: `kernel parameter ${quoted(word)} contains ${describeChar(bad)}, which a generated boot script (iPXE, GRUB, pxelinux) would interpret`,
      });
    }
  }
});

/**
 * A URL written into generated boot scripts (httpBaseUrl): an http(s) URL with none of the
 * characters iPXE, GRUB or pxelinux interpret (whitespace and control characters, `$`,
 * quotes, `#`, `;`, `\\`, braces, `|`, `&`, `<`, `>`, backquote). Checked at `validate`, so
 * `promote` never meets one.
 */
const bootScriptUnsafe = /[\s\x00-\x1f\x7f$'"#;\\{}|&<>`]/;

export const bootScriptUrl = z
  .string()
  .superRefine((value, ctx) => {
    // Before the URL check, which drops tabs and newlines as the URL standard does.
    const bad = [...value].find((ch) => bootScriptUnsafe.test(ch));
    if (bad !== undefined) {
      ctx.addIssue({
        code: 'custom',
        abort: true,
        message: `contains ${describeChar(bad)}, which a generated boot script (iPXE, GRUB, pxelinux) would interpret`,
      });
    }
  })
  .pipe(z.url({ protocol: /^https?$/ }))
  .meta({ format: 'uri' });

function describeChar(ch: string): string {
  if (ch === '\n') return 'a newline';
  if (ch === '\t') return 'a tab';
  if (ch === ' ') return 'a space';
  if (/[\x00-\x1f\x7f]/.test(ch)) return `control character U+${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
  return `\`${ch}\``;
}

/** A path relative to the recipe repository (hooks, overlay metadata); checked further by the rules. */
export const repoPath = z
  .string()
  .min(1)
  .refine((value) => !value.startsWith('/'), { error: 'must be a path relative to the repository root' })
  .refine((value) => !value.includes('\0'), { error: 'must not contain NUL' });
