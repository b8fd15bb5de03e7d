import { z } from 'zod';

import { fileName, imageName, kernelCmdline } from '../recipe/patterns.js';

/** The site config, `pxeforge.yaml` at the root of the recipe repository. */

export const macAddress = z
  .string()
  .regex(/^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$/, { error: 'is not a MAC address (six hex pairs, e.g. 52:54:00:12:34:56)' });

const channel = z.strictObject({
  description: z.string().optional(),
  protected: z
    .boolean()
    .optional()
    .describe('Only versions with a passing boot test for their current digests may be promoted.'),
});

const nodeGroup = z.strictObject({
  description: z.string().optional(),
  image: imageName.describe('Recipe (image) name this group boots.'),
  channel: fileName.describe('Channel of that image the group follows.'),
  macs: z.array(macAddress).optional().describe('Members by MAC address.'),
  hosts: z
    .array(z.string().min(1))
    .optional()
    .describe('Members by host name or range (cn[001-512]); their MACs come from `nodes`.'),
  kernelArgs: kernelCmdline.optional().describe('Extra kernel parameters for this group.'),
  firmware: z.enum(['bios', 'uefi']).optional().describe('Boot firmware of the members; default bios.'),
});

export const siteConfigSchema = z
  .strictObject({
    store: z.string().min(1).optional().describe('Image store; default var/store (relative to this file).'),
    cache: z.string().min(1).optional().describe('Build step cache (layers, initrds); default var/cache.'),
    tftpRoot: z.string().min(1).optional().describe('TFTP/HTTP root served to nodes; default var/tftp.'),
    httpBaseUrl: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe('URL under which nodes reach the TFTP root over HTTP (squashfs roots are fetched from it).'),
    mirror: z
      .union([z.literal('host'), z.url({ protocol: /^https?$/ })])
      .optional()
      .describe('Debian mirror for builds; `host` (default) uses the mirror of this host\'s apt sources.'),
    channels: z.record(fileName, channel).optional(),
    nodes: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.-]*$/, { error: 'is not a host name' }), macAddress).optional()
      .describe('MAC table: host name → MAC address, for node groups that list hosts.'),
    nodeGroups: z.record(fileName, nodeGroup).optional(),
    unknownNodes: z
      .strictObject({
        action: z.enum(['localboot', 'menu', 'group']),
        group: fileName.optional(),
      })
      .optional()
      .describe('What a node whose MAC is in no group boots; default localboot.'),
  })
  .describe('pxeforge site config: where images and the PXE tree live, channels and node groups.');

export type SiteConfigFile = z.output<typeof siteConfigSchema>;
