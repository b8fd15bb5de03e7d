import path from 'node:path';

import { quoted } from '../errors/quote-text.js';
import { builtinVars, type SiteNode, type VarValue } from './node-table.js';
import type { SiteConfigFile } from './schema.js';

export type { SiteNode, VarValue } from './node-table.js';

/** Where a setting is in pxeforge.yaml, as problems name it. */
export interface SettingLocation {
  file: string;
  line?: number;
  column?: number;
  path: string;
}

export interface NodeSecretSetting {
  name: string;
  /** Where the node gets it: a normalized absolute path. */
  path: string;
  owner: string | number | undefined;
  group: string | number | undefined;
  /** Default 0400. */
  mode: number;
  at: SettingLocation;
}

export interface GroupNodeConfig {
  vars: Record<string, VarValue>;
  nodeFiles: { name: string; at: SettingLocation }[];
  secrets: NodeSecretSetting[];
  at: SettingLocation;
}

/** What node files are made of: variables, node file sets, secrets, and where each is set. */
export interface SiteNodeConfig {
  /** The recipe repository: node file sets are `nodefiles/<set>/` in it. */
  repoRoot: string;
  /** The image store (the secrets directory must be outside it). */
  storeDir: string;
  /** Site default variables. */
  vars: Record<string, VarValue>;
  /** Every named node of the `nodes` table, by host name. */
  nodes: SiteNode[];
  groups: Record<string, GroupNodeConfig>;
  /** Largest node archive, bytes. */
  archiveLimit: number;
  /** Where the secrets directory is set (or the file, when it is the default). */
  secretsAt: SettingLocation;
}

export const defaultNodeArchiveLimit = 8 * 1024 * 1024;

const units: Record<string, number> = { K: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };

export function parseByteQuantity(text: string): number {
  const match = /^(\d+)(Ki|Mi|Gi|Ti|K|M|G|T)?$/.exec(text);
  if (match === null) throw new Error(`${quoted(text)} is not a size quantity`);
  return Number(match[1]) * (match[2] === undefined ? 1 : (units[match[2]] ?? 1));
}

export const secretNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** An absolute path with no empty, `.` or `..` component and no trailing `/` (and not `/` itself). */
export function isNormalizedAbsolute(file: string): boolean {
  if (!file.startsWith('/') || file === '/') return false;
  return file
    .slice(1)
    .split('/')
    .every((part) => part !== '' && part !== '.' && part !== '..' && !/[\u0000-\u001f\u007f]/.test(part));
}

type Report = (fieldPath: PropertyKey[], message: string, hint?: string) => void;
type Locate = (fieldPath: PropertyKey[]) => SettingLocation;

export function resolveNodeConfig(
  root: string,
  config: SiteConfigFile,
  table: Map<string, SiteNode>,
  report: Report,
  locate: Locate,
): SiteNodeConfig {
  const builtin = (name: string) => (builtinVars as readonly string[]).includes(name);
  for (const name of Object.keys(config.vars ?? {})) {
    if (builtin(name)) report(['vars', name], `${quoted(name)} is a built-in variable; no node, group or site may define it`);
  }
  const groups: Record<string, GroupNodeConfig> = {};
  for (const [name, group] of Object.entries(config.nodeGroups ?? {})) {
    const at = (...rest: PropertyKey[]) => ['nodeGroups', name, ...rest];
    for (const variable of Object.keys(group.vars ?? {})) {
      if (builtin(variable))
        report(at('vars', variable), `${quoted(variable)} is a built-in variable; no node, group or site may define it`);
    }
    const secrets: NodeSecretSetting[] = [];
    for (const [index, secret] of (group.secrets ?? []).entries()) {
      let ok = true;
      if (!secretNamePattern.test(secret.name) || secret.name === 'host-keys') {
        report(
          at('secrets', index, 'name'),
          `${quoted(secret.name)} is not a secret name`,
          'a file name in the secrets directory: letters, digits, `.`, `_`, `-`, not starting with a dot (and not host-keys)',
        );
        ok = false;
      }
      if (!isNormalizedAbsolute(secret.path)) {
        report(at('secrets', index, 'path'), `${quoted(secret.path)} is not a normalized absolute path (no \`..\`, \`.\` or \`//\`)`);
        ok = false;
      }
      if (ok) {
        secrets.push({
          name: secret.name,
          path: secret.path,
          owner: secret.owner,
          group: secret.group,
          mode: secret.mode === undefined ? 0o400 : parseInt(secret.mode, 8),
          at: locate(at('secrets', index)),
        });
      }
    }
    const wantsFiles = (group.nodeFiles?.length ?? 0) > 0 || secrets.length > 0 || group.hostKeys === 'managed';
    if (wantsFiles && (group.macs?.length ?? 0) > 0) {
      report(
        at('macs'),
        'a node group with node files, secrets or managed host keys names its members by `hosts`',
        'give each member a name in `nodes` and list it under `hosts`',
      );
    }
    groups[name] = {
      vars: group.vars ?? {},
      nodeFiles: (group.nodeFiles ?? []).map((set, index) => ({ name: set, at: locate(at('nodeFiles', index)) })),
      secrets,
      at: locate(at()),
    };
  }
  const nodes = [...table.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  return {
    repoRoot: root,
    storeDir: path.resolve(root, typeof config.store === 'string' ? config.store : 'var/store'),
    vars: config.vars ?? {},
    nodes,
    groups,
    archiveLimit: config.nodeArchiveLimit === undefined ? defaultNodeArchiveLimit : parseByteQuantity(config.nodeArchiveLimit),
    secretsAt: locate(config.secrets === undefined ? [] : ['secrets']),
  };
}
