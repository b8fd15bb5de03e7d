import { createHmac } from 'node:crypto';

import { publicKeyFingerprint } from './host-keys.js';

/**
 * An OpenSSH known_hosts file, as `ssh` reads it: `[marker] patterns keytype key [comment]`.
 * Patterns are host names or addresses (`[host]:port` for a port other than 22), hashed names
 * (`|1|salt|hmac`), wildcards (`*`, `?`) and negations (`!pattern`). A `@revoked` key is never
 * accepted; `@cert-authority` lines are not used (pxeforge does not check host certificates).
 */
export interface KnownHosts {
  /** The fingerprints listed for a host (any of its names), and those revoked for it. */
  lookup(names: readonly string[], port: number): { accepted: string[]; revoked: string[] };
}

interface Entry {
  marker: 'revoked' | 'cert-authority' | undefined;
  patterns: string[];
  fingerprint: string;
}

export function parseKnownHosts(text: string): KnownHosts {
  const exact = new Map<string, Entry[]>();
  const other: Entry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: Entry['marker'];
    if (fields[0]?.startsWith('@')) {
      const name = fields.shift();
      if (name === '@revoked') marker = 'revoked';
      else if (name === '@cert-authority') marker = 'cert-authority';
      else continue;
    }
    const [patterns, type, key] = fields;
    if (patterns === undefined || type === undefined || key === undefined) continue;
    const fingerprint = publicKeyFingerprint(`${type} ${key}`);
    if (fingerprint === undefined) continue;
    const entry: Entry = { marker, patterns: patterns.split(','), fingerprint };
    const plain = entry.patterns.every((pattern) => !/[*?!|]/.test(pattern));
    if (!plain) other.push(entry);
    else
      for (const pattern of entry.patterns) {
        const list = exact.get(pattern.toLowerCase()) ?? [];
        list.push(entry);
        exact.set(pattern.toLowerCase(), list);
      }
  }
  return {
    lookup(names, port) {
      const wanted = names.map((name) => (port === 22 ? name : `[${name}]:${port}`).toLowerCase());
      const found = new Set<Entry>();
      for (const name of wanted) for (const entry of exact.get(name) ?? []) found.add(entry);
      for (const entry of other) if (wanted.some((name) => matches(entry.patterns, name))) found.add(entry);
      const accepted: string[] = [];
      const revoked: string[] = [];
      for (const entry of found) {
        if (entry.marker === 'revoked') revoked.push(entry.fingerprint);
        else if (entry.marker === undefined) accepted.push(entry.fingerprint);
      }
      return { accepted, revoked };
    },
  };
}

/** OpenSSH's rule: some pattern matches and no negated pattern does. */
function matches(patterns: readonly string[], name: string): boolean {
  let matched = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    const body = negated ? pattern.slice(1) : pattern;
    if (!patternMatches(body, name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

function patternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (salt === undefined || hash === undefined) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  const expression = pattern
    .toLowerCase()
    .split('')
    .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${expression}$`).test(name);
}
