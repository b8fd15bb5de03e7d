import { isIP } from 'node:net';

import { quoted } from '../errors/quote-text.js';
import { expandHostlist } from './hostlist.js';
import type { SiteConfigFile } from './schema.js';

/** A value of a node variable. */
export type VarValue = string | number | boolean;

/** Names every template sees that no `vars` (site, group or node) may define. */
export const builtinVars = ['host', 'mac', 'ip', 'group', 'image', 'channel', 'nodes', 'ssh_known_hosts'] as const;

export const varNamePattern = /^[a-z_][a-z0-9_]*$/;

/** A named node of the `nodes` table, after ranges and patterns are expanded. */
export interface SiteNode {
  host: string;
  /** Lowercase, colon-separated. */
  mac: string;
  /** Address with optional prefix length (`10.0.0.5/24`), when given. */
  ip: string | undefined;
  /** The node's own variables (not merged). */
  vars: Record<string, VarValue>;
  /** The `nodes` keys that define it (a name, ranges). */
  entries: string[];
}

type Report = (fieldPath: PropertyKey[], message: string, hint?: string) => void;

const patternToken = /\{n(?::(0?)(\d+)([dx]))?\}/g;

/** `{n}`, `{n:03d}`, `{n:02x}` of a range's value, for node number `n`. */
export function substituteNumber(value: string, n: number): string {
  return value.replace(patternToken, (_match, zero: string | undefined, width: string | undefined, kind: string | undefined) => {
    const text = kind === 'x' ? n.toString(16) : String(n);
    return width === undefined ? text : text.padStart(Number(width), zero === '0' ? '0' : ' ');
  });
}

const usesNumber = (value: unknown) => typeof value === 'string' && /\{n(:[^}]*)?\}/.test(value);

const macPattern = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** `10.0.0.5`, `10.0.0.5/24`, `fd00::5/64`. */
export function isAddress(value: string): boolean {
  const [address = '', prefix, ...rest] = value.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * The `nodes` table: every named node with its MAC, address and variables. A host several
 * entries define (a name and a range, two ranges) takes all their values, which must agree.
 */
export function resolveNodeTable(config: SiteConfigFile, report: Report): Map<string, SiteNode> {
  const nodes = new Map<string, SiteNode>();
  for (const [key, value] of Object.entries(config.nodes ?? {})) {
    const at = (...rest: PropertyKey[]) => ['nodes', key, ...rest];
    let hosts: string[];
    try {
      hosts = expandHostlist(key);
    } catch (error) {
      report(at(), (error as Error).message);
      continue;
    }
    const groups = (key.match(/\[/g) ?? []).length;
    const fields: Record<string, VarValue> = typeof value === 'string' ? { mac: value } : (value as Record<string, VarValue>);
    let usable = true;
    for (const [name, field] of Object.entries(fields)) {
      if (name !== 'mac' && name !== 'ip') {
        if (!varNamePattern.test(name)) {
          report(at(name), `${quoted(name)} is not a variable name (lowercase letters, digits, \`_\`)`);
          usable = false;
        } else if ((builtinVars as readonly string[]).includes(name)) {
          report(at(name), `${quoted(name)} is a built-in variable; no node, group or site may define it`);
          usable = false;
        }
      }
      if (usesNumber(field) && groups !== 1) {
        report(
          at(name),
          groups === 0
            ? '`{n}` stands for the node number of a host range; this entry is a single host'
            : '`{n}` needs a range with one `[...]` group; this one has several, so the number is ambiguous',
        );
        usable = false;
      }
    }
    if (!usable) continue;
    const open = key.indexOf('[');
    const prefix = open === -1 ? key : key.slice(0, open);
    const suffix = open === -1 ? '' : key.slice(key.indexOf(']', open) + 1);
    let reported = new Set<string>();
    for (const host of hosts) {
      const n = groups === 1 ? Number(host.slice(prefix.length, host.length - suffix.length)) : 0;
      const values = Object.fromEntries(
        Object.entries(fields).map(([name, field]) => [
          name,
          typeof field === 'string' && groups === 1 ? substituteNumber(field, n) : field,
        ]),
      );
      const mac = String(values.mac).toLowerCase().replaceAll('-', ':');
      if (!macPattern.test(mac)) {
        if (!reported.has('mac'))
          report(at(...(typeof value === 'string' ? [] : ['mac'])), `${quoted(String(values.mac))} (${host}) is not a MAC address`);
        reported.add('mac');
        continue;
      }
      const ip = values.ip === undefined ? undefined : String(values.ip);
      if (ip !== undefined && !isAddress(ip)) {
        if (!reported.has('ip'))
          report(at('ip'), `${quoted(ip)} (${host}) is not an address with optional prefix length (e.g. 10.0.0.5/24)`);
        reported.add('ip');
        continue;
      }
      const vars = Object.fromEntries(Object.entries(values).filter(([name]) => name !== 'mac' && name !== 'ip'));
      const node: SiteNode = { host, mac, ip, vars, entries: [key] };
      const previous = nodes.get(host);
      if (previous === undefined) {
        nodes.set(host, node);
        continue;
      }
      const differs = [
        ...(previous.mac === mac ? [] : ['mac']),
        ...(previous.ip === undefined || ip === undefined || previous.ip === ip ? [] : ['ip']),
        ...Object.keys(vars).filter((name) => name in previous.vars && previous.vars[name] !== vars[name]),
      ];
      const fresh = differs.filter((name) => !reported.has(`ambiguous ${name}`));
      if (fresh.length > 0) {
        report(
          at(),
          `${host} is also defined by ${quoted(previous.entries.join(', '))}, with another ${fresh.map((name) => quoted(name)).join(', ')}`,
          'give each host its values in one entry, or the same values in both',
        );
        for (const name of fresh) reported.add(`ambiguous ${name}`);
      }
      previous.ip ??= ip;
      previous.vars = { ...vars, ...previous.vars };
      previous.entries.push(key);
    }
    reported = new Set();
  }
  return nodes;
}
