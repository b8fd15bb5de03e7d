import { z } from 'zod';

import { archNames } from '../arches/registry.js';
import { firmwares } from '../boot-loaders/boot-loader.js';
import { bootScriptUrl, fileName, imageName, kernelCmdline } from '../recipe/patterns.js';
import { fileMode, ownerOrGroup, recipeCheck } from '../recipe/schema.js';

/** The site config, `pxeforge.yaml` at the root of the recipe repository. */

export const macAddress = z
  .string()
  .regex(/^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$/, { error: 'is not a MAC address (six hex pairs, e.g. 52:54:00:12:34:56)' });

/** Variable names templates see: `{{ ib0 }}`. */
export const varName = z.string().regex(/^[a-z_][a-z0-9_]*$/, { error: 'is not a variable name (lowercase letters, digits, `_`)' });
const varValue = z.union([z.string(), z.number(), z.boolean()]);
const vars = z.record(varName, varValue);

/** A node of the `nodes` table: its MAC alone, or a mapping of its MAC, address and variables. */
const nodeEntry = z.union([
  macAddress,
  z
    .object({
      mac: z.string().min(1).describe('MAC address; in a host range, a pattern such as `52:54:00:00:10:{n:02x}`.'),
      ip: z.string().min(1).optional().describe('Address with optional prefix length, e.g. `10.0.0.5/24`.'),
    })
    .catchall(varValue),
]);

const nodeSecret = z.strictObject({
  name: z.string().describe('A file in the secrets directory.'),
  path: z.string().describe('Where the node gets it (absolute).'),
  owner: ownerOrGroup.optional(),
  group: ownerOrGroup.optional(),
  mode: fileMode.optional(),
});

const channel = z.strictObject({
  description: z.string().optional(),
  protected: z.boolean().optional().describe('Only versions with a passing boot test for their current digests may be promoted.'),
});

const nodeGroup = z.strictObject({
  description: z.string().optional(),
  image: imageName.describe('Recipe (image) name this group boots.'),
  channel: fileName.describe('Channel of that image the group follows.'),
  macs: z.array(macAddress).optional().describe('Members by MAC address.'),
  hosts: z.array(z.string().min(1)).optional().describe('Members by host name or range (cn[001-512]); their MACs come from `nodes`.'),
  kernelArgs: kernelCmdline.optional().describe('Extra kernel parameters for this group.'),
  firmware: z
    .enum(firmwares)
    .optional()
    .describe('Boot firmware of the members; default bios (uefi for an architecture without BIOS, such as arm64).'),
  arch: z
    .enum(archNames)
    .optional()
    .describe('CPU architecture of the members; default amd64. Only images of this architecture are served to them.'),
  hostKeys: z
    .enum(['managed', 'boot'])
    .optional()
    .describe(
      'SSH host keys of the members: `managed` (pxeforge keeps one per node in the secrets directory and delivers it at every boot) or `boot` (default: each boot makes new ones).',
    ),
  vars: vars.optional().describe("Variables of the members' node files (over the site `vars`, under each node's own)."),
  nodeFiles: z
    .array(fileName)
    .optional()
    .describe('Node file sets (`nodefiles/<set>/`) every member receives, templates rendered per node.'),
  secrets: z.array(nodeSecret).optional().describe('Site secrets (files of the secrets directory) every member receives.'),
});

const byteQuantity = (what: string) => z.string().regex(/^\d+(Ki|Mi|Gi|Ti|K|M|G|T)?$/, { error: `is not a ${what} quantity (e.g. 4Gi)` });

const resources = z.strictObject({
  cpu: z
    .string()
    .regex(/^\d+(\.\d+)?m?$/, { error: 'is not a CPU quantity (e.g. 2, 500m)' })
    .optional(),
  memory: byteQuantity('memory').optional(),
});

/** Where build pods see their node-local directory (the step cache and work trees). */
export const podLocalPath = '/var/lib/pxeforge';

const overlaps = (a: string, b: string) => {
  const [x, y] = [a.replace(/\/+$/, ''), b.replace(/\/+$/, '')];
  return x === y || x.startsWith(`${y}/`) || y.startsWith(`${x}/`);
};

const kubernetes = z
  .strictObject({
    kubeconfig: z.string().min(1).optional().describe('kubeconfig file; default $KUBECONFIG, then ~/.kube/config.'),
    context: z.string().min(1).optional().describe('kubeconfig context; default its current context.'),
    namespace: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { error: 'is not a namespace name' })
      .default('pxeforge'),
    image: z.string().min(1).describe('Builder image (deploy/Containerfile): Debian with the host tools and pxeforge.'),
    storage: z
      .union([
        z.strictObject({ pvc: z.string().min(1), mountPath: z.string().startsWith('/') }),
        z.strictObject({ hostPath: z.string().startsWith('/'), mountPath: z.string().startsWith('/') }),
      ])
      .describe(
        'How pods reach the shared store: a PVC, or a hostPath where the HPC filesystem is mounted on every node. ' +
          'mountPath is where it appears in the pod; it must hold the store at the same path as on this host.',
      ),
    local: z
      .union([
        z.strictObject({ emptyDir: z.strictObject({ sizeLimit: byteQuantity('storage').optional() }) }),
        z.strictObject({ hostPath: z.string().startsWith('/') }),
      ])
      .optional()
      .describe(
        `Node-local storage of build pods, at ${podLocalPath} in the pod: the step cache and work trees, which overlayfs ` +
          'cannot keep on the shared file system. An emptyDir (default; the cache is cold in every pod) or a hostPath ' +
          'on a local disk of the builder node (the cache stays warm on that node).',
      ),
    nodeSelector: z.record(z.string(), z.string()).optional(),
    tolerations: z
      .array(
        z.strictObject({
          key: z.string().optional(),
          operator: z.enum(['Equal', 'Exists']).optional(),
          value: z.string().optional(),
          effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
        }),
      )
      .optional(),
    resources: z.strictObject({ build: resources.optional(), test: resources.optional() }).optional(),
    deadlines: z
      .strictObject({ buildSeconds: z.number().int().positive().optional(), testSeconds: z.number().int().positive().optional() })
      .optional(),
    kvm: z.boolean().optional().describe('Boot-test pods ask for /dev/kvm through the devices.kubevirt.io/kvm resource; TCG otherwise.'),
  })
  .superRefine((config, context) => {
    if (overlaps(config.storage.mountPath, podLocalPath))
      context.addIssue({
        code: 'custom',
        path: ['storage', 'mountPath'],
        message: `overlaps ${podLocalPath}, where build pods mount their node-local storage: mount the shared storage elsewhere`,
      });
  })
  .describe('The kubernetes executor: where build and boot-test pods run.');

const fleet = z
  .strictObject({
    ssh: z
      .strictObject({
        user: z
          .string()
          .regex(/^[a-z_][a-z0-9_.-]*$/, { error: 'is not a user name' })
          .optional()
          .describe('Account pxeforge logs in as on the nodes; default root.'),
        identityFile: z.string().min(1).optional().describe('Private key (relative to this file); required for `pxeforge fleet status`.'),
        port: z.number().int().min(1).max(65535).optional().describe("The nodes' SSH port; default 22."),
        knownHosts: z
          .string()
          .min(1)
          .optional()
          .describe('known_hosts file with the host keys of members whose group is not `hostKeys: managed` (relative to this file).'),
      })
      .optional(),
    parallel: z.number().int().min(1).max(4096).optional().describe('Most SSH sessions open at once; default 64.'),
    timeoutSeconds: z.number().positive().max(3600).optional().describe('Per node (connect and read); default 10.'),
  })
  .describe('How `pxeforge fleet status` reads what each node booted (its /run/pxeforge/boot.json, over SSH).');

const rollout = z
  .strictObject({
    reboot: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe(
        'Reboot command: argv, no shell (each element one argument). Placeholders {host}, {address}, {mac}, {bmc} run it once per node; {hosts} once per wave (the host names joined with commas, one argument).',
      ),
    checks: z.array(recipeCheck).optional().describe('Site-wide health checks every node of a wave must pass (as recipe `tests.checks`).'),
    healthTimeoutSeconds: z
      .int()
      .min(1)
      .max(86400)
      .optional()
      .describe('Default of `--health-timeout`: from the reboot until the node booted the new version and passed its checks; default 900.'),
    rebootTimeoutSeconds: z.int().min(1).max(3600).optional().describe('How long one reboot command may run; default 120.'),
  })
  .describe('How `pxeforge rollout` reboots nodes and judges their health.');

const settings = {
  store: z.string().min(1).optional().describe('Image store; default var/store (relative to this file).'),
  cache: z
    .string()
    .min(1)
    .optional()
    .describe('Build step cache (layers, initrds); default var/cache. On a local disk: its unpacked layers are overlay lower directories.'),
  work: z
    .string()
    .min(1)
    .optional()
    .describe('Where builds make their work trees (overlay upper and work directories); default <cache>/work. On a local disk.'),
  tftpRoot: z.string().min(1).optional().describe('TFTP/HTTP root served to nodes; default var/tftp.'),
  secrets: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Secrets directory on this host (0700; outside git, the store and the tree): site secrets and managed SSH host keys; default var/secrets.',
    ),
  httpBaseUrl: bootScriptUrl
    .optional()
    .describe('URL under which nodes reach the TFTP root over HTTP (squashfs roots are fetched from it).'),
  mirror: z
    .union([z.literal('host'), z.url({ protocol: /^https?$/ })])
    .optional()
    .describe("Debian mirror for builds; `host` (default) uses the mirror of this host's apt sources."),
  channels: z.record(fileName, channel).optional(),
  vars: vars.optional().describe('Site default variables of node files (strings, numbers, booleans).'),
  nodes: z
    .record(z.string().regex(/^[A-Za-z0-9[][A-Za-z0-9.,[\]-]*$/, { error: 'is not a host name or range' }), nodeEntry)
    .optional()
    .describe(
      'Node table: host name or range (cn[001-512]) → MAC address, or a mapping of `mac`, `ip` and variables. In a range, `{n}`, `{n:03d}` and `{n:02x}` in values stand for the node number.',
    ),
  nodeArchiveLimit: byteQuantity('size')
    .optional()
    .describe('Largest node archive (sum of file sizes + 512 bytes per entry); default 8Mi.'),
  nodeGroups: z.record(fileName, nodeGroup).optional(),
  kubernetes: kubernetes.optional(),
  fleet: fleet.optional(),
  rollout: rollout.optional(),
  unknownNodes: z
    .strictObject({
      action: z.enum(['localboot', 'menu', 'group']),
      group: fileName.optional(),
    })
    .optional()
    .describe('What a node whose MAC is in no group boots; default localboot.'),
};

const description = 'pxeforge site config: where images and the PXE tree live, channels and node groups.';

export const siteConfigSchema = z.strictObject(settings).describe(description);

/**
 * The three parts of the site config, each loaded and checked on its own: the build settings
 * (what builds read), the tree (the PXE tree, its channels and node groups) and the executors.
 */
export type SitePart = 'build' | 'tree' | 'executors';
export const siteParts: readonly SitePart[] = ['build', 'tree', 'executors'];

const partOf: Record<keyof typeof settings, SitePart> = {
  store: 'build',
  cache: 'build',
  work: 'build',
  mirror: 'build',
  tftpRoot: 'tree',
  secrets: 'tree',
  vars: 'tree',
  nodeArchiveLimit: 'tree',
  httpBaseUrl: 'tree',
  channels: 'tree',
  nodes: 'tree',
  nodeGroups: 'tree',
  unknownNodes: 'tree',
  kubernetes: 'executors',
  fleet: 'tree',
  rollout: 'tree',
};

/**
 * The file's schema checking the values of `parts` only: the other settings are left to
 * their own part's loader. A setting the file format does not know is refused either way.
 * Only the fields of `parts` in the output are checked.
 */
export function sitePartsSchema(parts: readonly SitePart[]): z.ZodType<SiteConfigFile> {
  if (siteParts.every((part) => parts.includes(part))) return siteConfigSchema;
  const shape = Object.fromEntries(
    Object.entries(settings).map(([key, schema]) => [
      key,
      parts.includes(partOf[key as keyof typeof settings]) ? schema : z.unknown().optional(),
    ]),
  );
  return z.strictObject(shape).describe(description) as unknown as z.ZodType<SiteConfigFile>;
}

export type SiteConfigFile = z.output<typeof siteConfigSchema>;
export type KubernetesConfig = z.output<typeof kubernetes>;
export type FleetConfig = z.output<typeof fleet>;
