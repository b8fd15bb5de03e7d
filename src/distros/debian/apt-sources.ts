import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

import { UserError } from '../../errors/user-error.js';

/** One apt source for the image: `deb <uri> <suite> <components...>`. */
export interface AptSource {
  uri: string;
  suite: string;
  components: string[];
}

/**
 * The apt sources a build uses for `release`. With a mirror URL: the release, its -updates
 * and its -security suites from that mirror (security from `<mirror>-security` when the
 * mirror path ends in /debian). With `host`: this host's own Debian sources, moved to
 * `release` (bookworm-updates on a bookworm host becomes trixie-updates for trixie).
 */
export function aptSources(mirror: string, release: string, host: AptSource[]): AptSource[] {
  if (mirror !== 'host') {
    const base = mirror.replace(/\/+$/, '');
    const security = /\/debian$/.test(base) ? `${base}-security` : base;
    return [
      { uri: base, suite: release, components: ['main'] },
      { uri: base, suite: `${release}-updates`, components: ['main'] },
      { uri: security, suite: `${release}-security`, components: ['main'] },
    ];
  }
  const debian = host.filter((source) => /\/debian(-security)?\/?$/.test(source.uri));
  if (debian.length === 0) {
    throw new UserError('NO_HOST_MIRROR', 'the site config says `mirror: host`, but this host has no Debian apt source', {
      hint: 'set `mirror: <url of a Debian mirror>` in pxeforge.yaml',
    });
  }
  const seen = new Set<string>();
  return debian
    .map((source) => ({ ...source, suite: source.suite.replace(/^[a-z]+(?=$|-)/, release), components: ['main'] }))
    .filter((source) => {
      const key = `${source.uri} ${source.suite}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}

export function sourcesListText(sources: readonly AptSource[]): string {
  return sources.map((source) => `deb ${source.uri} ${source.suite} ${source.components.join(' ')}\n`).join('');
}

/** This host's apt sources: one-line `sources.list` files and deb822 `.sources` files. */
export async function readHostAptSources(etcApt = '/etc/apt'): Promise<AptSource[]> {
  const files = [path.join(etcApt, 'sources.list')];
  const dir = path.join(etcApt, 'sources.list.d');
  for (const name of (await readdir(dir).catch(() => [])).sort()) files.push(path.join(dir, name));
  const sources: AptSource[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    if (file.endsWith('.list')) sources.push(...parseOneLine(text));
    else if (file.endsWith('.sources')) sources.push(...parseDeb822(text));
  }
  return sources;
}

export function parseOneLine(text: string): AptSource[] {
  return text.split('\n').flatMap((raw) => {
    const line = raw
      .replace(/#.*$/, '')
      .replace(/\[[^\]]*\]/, '')
      .trim()
      .split(/\s+/);
    const [type, uri, suite, ...components] = line;
    return type === 'deb' && uri !== undefined && suite !== undefined ? [{ uri, suite, components }] : [];
  });
}

export function parseDeb822(text: string): AptSource[] {
  return text.split(/\n\s*\n/).flatMap((stanza) => {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      const match = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (match !== null && !line.startsWith('#')) fields.set(match[1]!.toLowerCase(), match[2]!.trim());
    }
    if (!(fields.get('types') ?? '').split(/\s+/).includes('deb') || fields.get('enabled') === 'no') return [];
    const components = (fields.get('components') ?? 'main').split(/\s+/);
    return (fields.get('uris') ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .flatMap((uri) =>
        (fields.get('suites') ?? '')
          .split(/\s+/)
          .filter(Boolean)
          .map((suite) => ({ uri, suite, components })),
      );
  });
}
