import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { recipeRepo } from '../../src/recipe/repo.js';
import { loadSiteConfig } from '../../src/site/site-config.js';
import { copyFixtureRepo, runCli, validateSiteText } from '../helpers/cli.js';

let repo: { root: string; remove(): Promise<void> };
beforeEach(async () => {
  repo = await copyFixtureRepo();
});
afterEach(async () => {
  await repo.remove();
});

const validateSite = (text: string) => validateSiteText(repo.root, text);

describe('pxeforge.yaml', () => {
  it('defaults put the store and TFTP tree under the repository', async () => {
    await writeFile(path.join(repo.root, 'pxeforge.yaml'), '# nothing set\n');
    const { site, problems } = await loadSiteConfig(recipeRepo(repo.root), ['base']);
    expect(problems).toEqual([]);
    expect(site?.store).toBe(path.join(repo.root, 'var/store'));
    expect(site?.tftpRoot).toBe(path.join(repo.root, 'var/tftp'));
    expect(site?.mirror).toBe('host');
    expect(site?.channels).toEqual({
      staging: { protected: false, description: undefined },
      production: { protected: true, description: undefined },
    });
    expect(site?.unknownNodes).toEqual({ action: 'localboot', group: undefined });
  });

  it('expands host ranges through the MAC table', async () => {
    await writeFile(
      path.join(repo.root, 'pxeforge.yaml'),
      'nodes: { cn01: "52:54:00:00:00:01", cn02: "52-54-00-00-00-02" }\nnodeGroups:\n  g: { image: base, channel: staging, hosts: ["cn[01-02]"], firmware: uefi }\n',
    );
    const { site } = await loadSiteConfig(recipeRepo(repo.root), ['base']);
    expect(site?.nodeGroups).toEqual([
      {
        name: 'g',
        image: 'base',
        channel: 'staging',
        kernelArgs: '',
        firmware: 'uefi',
        arch: 'amd64',
        hostKeys: 'boot',
        members: [
          { mac: '52:54:00:00:00:01', host: 'cn01' },
          { mac: '52:54:00:00:00:02', host: 'cn02' },
        ],
      },
    ]);
  });

  it('an arm64 node group boots with UEFI by default, and BIOS is refused for it', async () => {
    await writeFile(
      path.join(repo.root, 'pxeforge.yaml'),
      'nodeGroups:\n  a: { image: base, channel: staging, arch: arm64 }\n  b: { image: base, channel: staging, arch: arm64, firmware: bios }\n',
    );
    const { site, problems } = await loadSiteConfig(recipeRepo(repo.root), ['base']);
    expect(site).toBeUndefined();
    expect(problems).toEqual([
      expect.objectContaining({
        line: 3,
        path: 'nodeGroups.b.firmware',
        message: 'arm64 nodes have no BIOS',
        hint: 'set `firmware: uefi` (the default for this architecture), or remove the line',
      }),
    ]);
    await writeFile(path.join(repo.root, 'pxeforge.yaml'), 'nodeGroups:\n  a: { image: base, channel: staging, arch: arm64 }\n');
    const loaded = await loadSiteConfig(recipeRepo(repo.root), ['base']);
    expect(loaded.site?.nodeGroups.map((group) => [group.name, group.arch, group.firmware])).toEqual([['a', 'arm64', 'uefi']]);
  });

  it('reports every problem with location', async () => {
    const result = await validateSite(`store: var/store
channels:
  staging: {}
  production: { protected: yes }
nodes:
  cn01: "52:54:00:00:00:01"
nodeGroups:
  a:
    image: bsae
    channel: stagign
    macs: ["52:54:00:00:00:01", "not-a-mac"]
  b:
    image: base
    channel: staging
    hosts: ["cn[01-03]"]
    kernelArgs: "quiet $(reboot)"
unknownNodes: { action: group, group: c }
httpBaseUrl: ftp://server/
`);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatchInlineSnapshot(`
      "pxeforge.yaml:4:28: channels.production.protected: expected a boolean, got \`yes\`
      pxeforge.yaml:11:33: nodeGroups.a.macs[1]: is not a MAC address (six hex pairs, e.g. 52:54:00:12:34:56)
      pxeforge.yaml:16:17: nodeGroups.b.kernelArgs: kernel parameter \`$(reboot)\` contains \`$\`, which a generated boot script (iPXE, GRUB, pxelinux) would interpret
      pxeforge.yaml:18:14: httpBaseUrl: \`ftp://server/\` is not an http:// or https:// URL
      4 problem(s) in 1 file(s)
      "
    `);
  });

  it('checks references across groups once the shape is right', async () => {
    const result = await validateSite(`nodes:
  cn01: "52:54:00:00:00:01"
nodeGroups:
  a:
    image: bsae
    channel: stagign
    macs: ["52:54:00:00:00:01"]
  b:
    image: base
    channel: staging
    hosts: ["cn[01-03]", "cn[5-1]"]
unknownNodes: { action: group, group: c }
`);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatchInlineSnapshot(`
      "pxeforge.yaml:5:12: nodeGroups.a.image: no recipe named \`bsae\`
          hint: did you mean \`base\`?
      pxeforge.yaml:6:14: nodeGroups.a.channel: no channel \`stagign\` in \`channels\`
          hint: did you mean \`staging\`?
      pxeforge.yaml:11:13: nodeGroups.b.hosts[0]: 2 host(s) have no MAC in \`nodes\`: cn02, cn03
          hint: add \`<host>: <mac>\` lines to the \`nodes\` table
      pxeforge.yaml:11:26: nodeGroups.b.hosts[1]: range \`5-1\` in \`cn[5-1]\` runs backwards
      pxeforge.yaml:9:5: nodeGroups.b: MAC 52:54:00:00:00:01 (cn01) is also in node group \`a\`
          hint: a node boots exactly one image: keep each MAC in one group
      pxeforge.yaml:12:39: unknownNodes.group: no node group \`c\`
      6 problem(s) in 1 file(s)
      "
    `);
  });

  it('a missing pxeforge.yaml is a usage error naming where pxeforge looked', async () => {
    const result = await runCli(['validate'], '/');
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatchInlineSnapshot(`
      "error: no pxeforge.yaml in / or any parent directory
      hint: run pxeforge inside a recipe repository, or pass --repo <dir>
      "
    `);
  });
});
