import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { aptSources, readHostAptSources, sourcesListText } from '../../src/distros/debian/apt-sources.js';

describe('apt sources', () => {
  it('reads deb822 and one-line sources of the host', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-apt-'));
    try {
      await mkdir(path.join(dir, 'sources.list.d'));
      await writeFile(
        path.join(dir, 'sources.list'),
        '# comment\ndeb [arch=amd64] http://mirror.example/debian bookworm main contrib\ndeb-src http://x/debian bookworm main\n',
      );
      await writeFile(
        path.join(dir, 'sources.list.d/debian.sources'),
        'Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n\nTypes: deb\nEnabled: no\nURIs: http://off/debian\nSuites: sid\n',
      );
      await writeFile(
        path.join(dir, 'sources.list.d/other.sources'),
        'Types: deb\nURIs: http://vendor.example/apt\nSuites: stable\nComponents: main\n',
      );
      const host = await readHostAptSources(dir);
      expect(host.map((s) => `${s.uri} ${s.suite}`)).toEqual([
        'http://mirror.example/debian bookworm',
        'http://mirror.example/debian bookworm',
        'http://mirror.example/debian bookworm-updates',
        'http://mirror.example/debian-security bookworm-security',
        'http://vendor.example/apt stable',
      ]);
      expect(sourcesListText(aptSources('host', 'trixie', host))).toBe(
        'deb http://mirror.example/debian trixie main\ndeb http://mirror.example/debian trixie-updates main\ndeb http://mirror.example/debian-security trixie-security main\n',
      );
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('derives updates and security suites from an explicit mirror', () => {
    expect(aptSources('http://m.example/debian/', 'bookworm', []).map((s) => `${s.uri} ${s.suite}`)).toEqual([
      'http://m.example/debian bookworm',
      'http://m.example/debian bookworm-updates',
      'http://m.example/debian-security bookworm-security',
    ]);
  });

  it('`host` on a host without Debian sources says what to set', () => {
    expect(() => aptSources('host', 'bookworm', [])).toThrow(/has no Debian apt source/);
  });
});
