import { rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { copyFixtureRepo, runCli, validateSiteText } from '../helpers/cli.js';

let repo: { root: string; remove(): Promise<void> };
beforeEach(async () => {
  repo = await copyFixtureRepo();
});
afterEach(async () => {
  await repo.remove();
});

const validateSite = (text: string) => validateSiteText(repo.root, text);

describe('pxeforge.yaml stays inside the repository', () => {
  it('a pxeforge.yaml linked out of the repository is refused by path, never printed', async () => {
    const outside = path.join(repo.root, '..', 'outside.yaml');
    await writeFile(outside, 'root:$y$j9T$SECRETHASH:19000:0:99999:7:::\nsecret_token: hunter2\n');
    await rm(path.join(repo.root, 'pxeforge.yaml'));
    await symlink(outside, path.join(repo.root, 'pxeforge.yaml'));
    const result = await runCli(['--repo', repo.root, 'validate', path.join(repo.root, 'recipes/base.yaml')]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).not.toContain('SECRETHASH');
    expect(result.stderr).not.toContain('hunter2');
    expect(result.stderr).toContain('pxeforge.yaml: is a symlink that leads outside the repository');
  });
});

describe('httpBaseUrl', () => {
  it.each([
    ['http://boot server/pxe', 'a space'],
    ['http://server/$root', '`$`'],
    ["http://server/it's", "`'`"],
    ['http://server/"x"', '`"`'],
    ['http://server/pxe#x', '`#`'],
    ['http://server/pxe;reboot', '`;`'],
    ['http://server/pxe\\x', '`\\`'],
    ['http://server/pxe\tx', 'a tab'],
    ['http://server/pxe\u0007x', 'control character U+0007'],
  ])('%j is refused at validate: it names %s', async (url, what) => {
    const result = await validateSite(`httpBaseUrl: ${JSON.stringify(url)}\n`);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(
      `pxeforge.yaml:1:14: httpBaseUrl: contains ${what}, which a generated boot script (iPXE, GRUB, pxelinux) would interpret`,
    );
  });

  it.each(['http://10.0.0.1/pxe', 'https://boot.example.org:8443/tftp/', 'http://[fd00::1]/pxe', 'http://server/a-b_c.d~e/%20'])(
    '%s is accepted',
    async (url) => {
      const result = await validateSite(`httpBaseUrl: ${url}\n`);
      expect(result.stderr).toBe('');
      expect(result.exitCode).toBe(0);
    },
  );
});

describe("kernel command line with a node group's kernelArgs", () => {
  it('is refused at validate beyond 2,048 bytes, with its size', async () => {
    const args = Array.from({ length: 330 }, (_, i) => `a${i}=1`).join(' ');
    const result = await validateSite(`nodeGroups:\n  lab: { image: base, channel: staging, kernelArgs: "${args}" }\n`);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(
      /pxeforge\.yaml: nodeGroups\.lab\.kernelArgs: with image `base`, the kernel command line is 2,\d{3} bytes/,
    );
  });
});

describe("a node group's architecture and its image's", () => {
  it('must agree: validate reports ARCH_MISMATCH at the group, with both architectures and the fix', async () => {
    const result = await validateSite(`nodeGroups:\n  arm: { image: base, channel: staging, arch: arm64, macs: ["52:54:00:aa:bb:02"] }\n`);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(
      // Located at the group's `arch:` value (line 2, column 47).
      'pxeforge.yaml:2:47: nodeGroups.arm.arch: node group `arm` is arm64, and its image `base` is built for amd64\n' +
        '    hint: set `arch: amd64` on the node group if its nodes are amd64, or give it an image whose recipe has `base.arch: arm64`',
    );
    const json = await runCli(['--repo', repo.root, '--json', 'validate', path.join(repo.root, 'recipes/base.yaml')]);
    const { problems } = JSON.parse(json.stdout) as { problems: { code?: string; path: string }[] };
    expect(problems).toEqual([expect.objectContaining({ code: 'ARCH_MISMATCH', path: 'nodeGroups.arm.arch', line: 2, column: 47 })]);
  });

  it('an image of the same architecture passes, written or by default', async () => {
    const result = await validateSite(
      `nodeGroups:\n  lab: { image: base, channel: staging, arch: amd64 }\n  more: { image: base, channel: staging }\n`,
    );
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
  });
});
