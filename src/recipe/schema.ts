import { z } from 'zod';

import { archNames } from '../arches/registry.js';
import { distroNames, distros } from '../distros/registry.js';
import { formatNames } from '../formats/registry.js';
import { fileName, imageName, kernelCmdline, kernelModuleName, packageSpec, repoPath, timezoneName, unitName } from './patterns.js';

/**
 * The recipe file as written (before `extends` is resolved). Every object is strict: an
 * unknown key is an error, so a typo never passes silently. Defaults are applied after
 * `extends` is resolved (see normalize.ts), so a child can leave out what its parent sets.
 */

export const supportedDistros = distroNames;
/** Accepted by the schema so the message can say "not supported yet" instead of "unknown". */
export const plannedDistros = ['rocky', 'almalinux', 'fedora'] as const;

const base = z.strictObject({
  distro: z.enum([...supportedDistros, ...plannedDistros]).describe('Distribution of the image root.'),
  release: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]*$/, { error: 'is not a release name' })
    .describe(
      `Release (${Object.values(distros)
        .map((distro) => `${distro.title}: ${distro.releases.join(', ')}`)
        .join('; ')}).`,
    ),
  arch: z.enum(archNames).optional().describe('Architecture; default amd64.'),
  variant: z
    .enum([...new Set(Object.values(distros).flatMap((distro) => distro.variants.names))] as [string, ...string[]])
    .optional()
    .describe(
      Object.values(distros)
        .map((distro) => `${distro.variants.description}; default ${distro.variants.default}.`)
        .join(' '),
    ),
  mirror: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe('Package mirror; default: the site config mirror.'),
});

const packages = z.strictObject({
  sets: z.array(fileName).optional().describe('Package sets from recipes/package-sets/<name>.yaml.'),
  include: z.array(packageSpec).optional().describe('Packages to install.'),
  exclude: z.array(packageSpec).optional().describe('Packages removed from the sets and parents.'),
});

const services = z.strictObject({
  enable: z.array(unitName).optional(),
  disable: z.array(unitName).optional(),
  mask: z.array(unitName).optional(),
});

const user = z.strictObject({
  name: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: 'is not a valid user name' }),
  uid: z.int().min(0).max(4294967294).optional(),
  group: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: 'is not a valid group name' })
    .optional(),
  groups: z.array(z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: 'is not a valid group name' })).optional(),
  home: z
    .string()
    .regex(/^\/[A-Za-z0-9._/-]*$/, { error: 'must be an absolute path' })
    .optional(),
  shell: z
    .string()
    .regex(/^\/[A-Za-z0-9._/-]*$/, { error: 'must be an absolute path' })
    .optional(),
  system: z.boolean().optional(),
});

const group = z.strictObject({
  name: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: 'is not a valid group name' }),
  gid: z.int().min(0).max(4294967294).optional(),
  system: z.boolean().optional(),
});

const kernel = z.strictObject({
  package: packageSpec.optional().describe('Kernel package, e.g. linux-image-amd64 (linux-image-arm64 for arm64).'),
  cmdline: kernelCmdline.optional().describe('Extra kernel parameters for every boot of this image.'),
  netbootDrivers: z
    .array(kernelModuleName)
    .optional()
    .describe(
      "Kernel modules the netboot initrd of a squashfs image carries besides pxeforge's list (e.g. ib_ipoib, mlx5_ib to boot over InfiniBand); with extends, the lists add up.",
    ),
});

const compression = z.strictObject({
  algorithm: z.enum(['zstd', 'xz', 'gzip', 'lz4']).optional(),
  level: z.int().min(1).max(22).optional(),
});

const output = z.strictObject({
  format: z.enum(formatNames).optional(),
  compression: compression.optional(),
  acceptCapabilityLoss: z.boolean().optional().describe('initramfs only: cpio keeps no xattrs; accept that file capabilities are dropped.'),
});

/** A health check run over SSH in a booted node (recipe `tests.checks`, site `rollout.checks`). */
export const recipeCheck = z.strictObject({
  name: z.string().min(1),
  run: z.string().min(1).describe('Shell command run over SSH inside the booted node.'),
  expect: z.string().optional().describe('Expected output (trimmed, exact).'),
  match: z.string().optional().describe('Regular expression the output must match.'),
  exit: z.int().min(0).max(255).optional().describe('Expected exit status; default 0.'),
  timeout: z.int().min(1).max(3600).optional().describe('Seconds; default 60.'),
});

const tests = z.strictObject({
  boot: z
    .strictObject({
      memory: z.int().min(256).max(262144).optional().describe('MiB; default 2048.'),
      cpus: z.int().min(1).max(64).optional().describe('Default 2.'),
      timeout: z.int().min(10).max(7200).optional().describe('Seconds until SSH must answer; default 300.'),
      builtinChecks: z.boolean().optional().describe('Run the built-in checks; default true.'),
    })
    .optional(),
  checks: z.array(recipeCheck).optional(),
});

const hygiene = z.strictObject({
  allowPrivateKeys: z
    .array(z.string().regex(/^\/[^\0]*$/, { error: 'must be an absolute path inside the image' }))
    .optional()
    .describe('Private keys that may stay in the image (default: none).'),
});

export const recipeFileSchema = z
  .strictObject({
    name: imageName.describe('Image name; also the directory name in the store and PXE tree.'),
    description: z.string().optional(),
    extends: imageName.optional().describe('Name of the parent recipe in recipes/.'),
    base: base.partial().optional(),
    packages: packages.optional(),
    overlays: z.array(fileName).optional().describe('Directories under overlays/, applied in order.'),
    services: services.optional(),
    users: z.array(user).optional(),
    groups: z.array(group).optional(),
    locale: z
      .string()
      .regex(/^[A-Za-z0-9_.@-]+$/, { error: 'is not a locale name' })
      .optional(),
    timezone: timezoneName.optional().describe('tz database zone name, e.g. Europe/Berlin; the image needs tzdata.'),
    kernel: kernel.optional(),
    output: output.optional(),
    hooks: z.array(repoPath).optional().describe('Scripts (repository paths) run inside the image root, in order.'),
    hygiene: hygiene.optional(),
    tests: tests.optional(),
  })
  .describe('A pxeforge recipe: how to build, boot-test and name one node image.');

export type RecipeFile = z.output<typeof recipeFileSchema>;
export type RecipeCheck = z.output<typeof recipeCheck>;
export type RecipeUser = z.output<typeof user>;
export type RecipeGroup = z.output<typeof group>;

export const packageSetSchema = z.strictObject({
  description: z.string().optional(),
  packages: z.array(packageSpec),
});

/** A user or group of the image: a name, or a numeric id. */
export const ownerOrGroup = z.union([z.int().min(0), z.string().regex(/^[a-z_][a-z0-9_-]*$/)]);

/** A file mode, quoted octal. */
export const fileMode = z.string().regex(/^0?[0-7]{3,4}$/, { error: 'must be an octal mode such as "0440" (quoted)' });

/**
 * Optional `overlays/<name>.yaml` beside the overlay directory: ownership and modes that git
 * cannot keep (it records only the executable bit).
 */
export const overlayMetaSchema = z.strictObject({
  description: z.string().optional(),
  files: z
    .array(
      z.strictObject({
        path: z.string().regex(/^\/[^\0]*$/, { error: 'must be an absolute path inside the image' }),
        owner: ownerOrGroup.optional(),
        group: ownerOrGroup.optional(),
        mode: fileMode.optional(),
        recursive: z.boolean().optional(),
      }),
    )
    .optional(),
});
