import { describe, expect, it } from 'vitest';
import type { z } from 'zod';

import {
  bootScriptUrl,
  fileName,
  imageName,
  kernelCmdline,
  kernelModuleName,
  packageSpec,
  repoPath,
  timezoneName,
  unitName,
} from '../../src/recipe/patterns.js';

/**
 * Each name rule, by what it lets through and what it refuses: the bad cases put the bad
 * character first, last and in the middle, so a rule that lost an anchor or a character
 * class lets one of them through.
 */
const accepts = (schema: z.ZodType, values: string[]) => expect(values.filter((value) => !schema.safeParse(value).success)).toEqual([]);
const refuses = (schema: z.ZodType, values: string[]) => expect(values.filter((value) => schema.safeParse(value).success)).toEqual([]);
const messages = (schema: z.ZodType, value: string) => schema.safeParse(value).error?.issues.map((issue) => issue.message);

describe('imageName', () => {
  it('takes lowercase letters, digits and dashes, starting with a letter or digit, up to 63', () => {
    accepts(imageName, ['a', '7', 'tiny', 'compute-gpu', '0-a', 'a-', `a${'b'.repeat(62)}`, `${'9'.repeat(63)}`]);
  });

  it('refuses anything else, wherever it is', () => {
    refuses(imageName, [
      '',
      '-a',
      'Tiny',
      'tinY',
      'ti_ny',
      '_a',
      'a_',
      'a.b',
      '.a',
      '../x',
      'a/b',
      'a@b',
      ' a',
      'a ',
      'a\n',
      'a\0',
      `a${'b'.repeat(63)}`,
    ]);
    expect(messages(imageName, 'A')).toEqual([
      'must be lowercase letters, digits and dashes (at most 63), starting with a letter or digit',
    ]);
  });
});

describe('packageSpec', () => {
  it('takes Debian package names with an optional architecture and version', () => {
    accepts(packageSpec, [
      'vim',
      'g++',
      'a.b',
      'a-b',
      'ab',
      'a1',
      '0ad',
      'libstdc++6',
      'libc6:amd64',
      'libc6:i386',
      'xy:a',
      'xy:1',
      'xy:amd-64',
      'xy=1',
      'xy=a',
      'xy=A',
      'xy=1.2',
      'xy=1+b',
      'xy=1~rc1',
      'xy=2:1.0',
      'xy=1-2',
      'linux-image-amd64=6.1.0-27',
      'libc6:amd64=2.36-9+deb12u4',
    ]);
  });

  it('refuses what is not one, wherever the bad character is', () => {
    refuses(packageSpec, [
      '',
      'v',
      'Vim',
      'viM',
      '-vim',
      '+vim',
      '.vim',
      'vim;rm',
      ';vim',
      'vim ',
      ' vim',
      'vi m',
      'vim_x',
      'vim/x',
      'vim:',
      'vim:AMD64',
      'vim:amd64:',
      'vim:a_b',
      'vim:amd64 ',
      'vim=',
      'vim=1 2',
      'vim=$(reboot)',
      'vim=1;',
      'vim=1_2',
      'vim=1\n',
      'vim=1=2',
      'vim=1:amd64:x/y',
      'vim\0',
      '../x',
      'vim=1:amd64=2 ',
    ]);
    expect(messages(packageSpec, 'Vim')).toEqual(['is not a Debian package name (`name`, `name:arch` or `name=version`)']);
  });
});

describe('fileName', () => {
  it('takes plain names', () => {
    accepts(fileName, ['core', 'A', 'z', '9', 'Core.v2_x-y', 'a.', 'a_', 'a-', 'a..b']);
  });

  it('refuses paths, hidden names and anything else, wherever it is', () => {
    refuses(fileName, ['', '.', '..', '.hidden', '_a', '-a', '../x', 'a/b', '/abs', 'a/', 'a b', ' a', 'a ', 'a\0', 'a\n', 'a:b', 'a@b']);
    expect(messages(fileName, '../x')).toEqual(['must be a plain name (letters, digits, `.`, `_`, `-`), not a path']);
  });
});

describe('unitName', () => {
  it('takes systemd unit names, with or without their suffix', () => {
    accepts(unitName, [
      'ssh',
      'SSH',
      '0',
      'getty@tty1.service',
      'systemd-networkd',
      'dev-disk-by\\x2dlabel.device',
      'a:b',
      'a_b',
      'a.b',
      'a@b',
      'a-b',
      'a\\b',
    ]);
  });

  it('refuses what a unit name cannot hold, wherever it is', () => {
    refuses(unitName, ['', 'ssh;reboot', ';ssh', 'ssh;', 'a b', ' a', 'a ', '/etc/x', 'a/b', 'a$', '$a', 'a\n', 'a\0', 'a*', 'a"b']);
    expect(messages(unitName, 'a b')).toEqual(['is not a systemd unit name']);
  });
});

describe('timezoneName', () => {
  it('takes tz database names', () => {
    accepts(timezoneName, [
      'UTC',
      'Z',
      '0',
      'Europe/Berlin',
      'Etc/GMT+5',
      'Etc/GMT-14',
      'America/Argentina/Buenos_Aires',
      'a/b/c/d',
      'x'.repeat(64),
    ]);
  });

  it('refuses paths, empty segments and long names', () => {
    refuses(timezoneName, [
      '',
      '/etc/passwd',
      '/UTC',
      'UTC/',
      'Europe//Berlin',
      '.',
      '..',
      '../x',
      'Europe/../x',
      'Europe/.',
      'Europe/Ber lin',
      ' UTC',
      'UTC ',
      'UTC\n',
      'Europe/Berlin\0',
      'Europe/Berlin;',
      'Europe\\Berlin',
      'x'.repeat(65),
    ]);
    expect(messages(timezoneName, '/etc/passwd')).toEqual(['is not a timezone name (Area/Location, e.g. Europe/Berlin)']);
  });
});

describe('kernelCmdline', () => {
  it('takes parameters of the characters a boot script passes through unchanged', () => {
    accepts(kernelCmdline, ['', ' ', 'quiet', 'console=ttyS0,115200n8', 'a=b:c/d+e@f%g~h-i_j.k', 'A Z 0', '  two  spaces  ']);
  });

  it('names the first bad character of each bad parameter', () => {
    expect(messages(kernelCmdline, 'quiet a$b ok c;d')).toEqual([
      'kernel parameter `a$b` contains `$`, which a generated boot script (iPXE, GRUB, pxelinux) would interpret',
      'kernel parameter `c;d` contains `;`, which a generated boot script (iPXE, GRUB, pxelinux) would interpret',
    ]);
    expect(messages(kernelCmdline, '"x"')).toEqual([
      'kernel parameter `"x"` contains `"`, which a generated boot script (iPXE, GRUB, pxelinux) would interpret',
    ]);
    expect(messages(kernelCmdline, 'x#')).toEqual([
      'kernel parameter `x#` contains `#`, which a generated boot script (iPXE, GRUB, pxelinux) would interpret',
    ]);
  });

  it('describes newlines, tabs and control characters, and never prints them raw', () => {
    expect(messages(kernelCmdline, 'a\nb')).toEqual([
      'kernel parameter `a\\nb` contains a newline, which a generated boot script (iPXE, GRUB, pxelinux) would interpret',
    ]);
    expect(messages(kernelCmdline, 'a\tb')).toEqual([
      'kernel parameter `a\\tb` contains a tab, which a generated boot script (iPXE, GRUB, pxelinux) would interpret',
    ]);
    expect(messages(kernelCmdline, 'a\x1b[0m\x01')).toEqual([
      'kernel parameter `a\\x1b[0m\\x01` contains control character U+001b, which a generated boot script (iPXE, GRUB, pxelinux) would interpret',
    ]);
    expect(messages(kernelCmdline, '\x00')).toEqual([
      'kernel parameter `\\x00` contains control character U+0000, which a generated boot script (iPXE, GRUB, pxelinux) would interpret',
    ]);
    expect(messages(kernelCmdline, 'x\x1f')).toEqual([
      'kernel parameter `x\\x1f` contains control character U+001f, which a generated boot script (iPXE, GRUB, pxelinux) would interpret',
    ]);
    expect(messages(kernelCmdline, 'x\x7f')).toEqual([
      'kernel parameter `x\\x7f` contains control character U+007f, which a generated boot script (iPXE, GRUB, pxelinux) would interpret',
    ]);
  });
});

describe('repoPath', () => {
  it('takes paths relative to the repository', () => {
    accepts(repoPath, ['a', 'recipes/hooks/ok.sh', 'hooks/', 'hooks/x/']);
  });

  it('refuses empty and absolute paths, and NUL anywhere', () => {
    expect(messages(repoPath, '')).toEqual(['Too small: expected string to have >=1 characters']);
    expect(messages(repoPath, '/etc/hook.sh')).toEqual(['must be a path relative to the repository root']);
    expect(messages(repoPath, '/')).toEqual(['must be a path relative to the repository root']);
    expect(messages(repoPath, 'a\0b')).toEqual(['must not contain NUL']);
    expect(messages(repoPath, '\0a')).toEqual(['must not contain NUL']);
    expect(messages(repoPath, 'a\0')).toEqual(['must not contain NUL']);
  });
});

describe('bootScriptUrl', () => {
  it('takes http and https URLs', () => {
    accepts(bootScriptUrl, ['http://10.0.0.1/pxe', 'https://boot.example.org:8443/tftp/', 'HTTP://server/']);
  });

  it('refuses every other scheme, also one that only starts or ends like http', () => {
    refuses(bootScriptUrl, [
      'ftp://server/pxe',
      'xhttp://server/pxe',
      'httpx://server/pxe',
      'https2://server/pxe',
      'tftp://server/',
      'file:///srv/tftp',
      'server/pxe',
    ]);
  });
});

describe('kernelModuleName', () => {
  it('takes module names as modprobe writes them, up to 64', () => {
    accepts(kernelModuleName, ['ib_ipoib', 'mlx5_ib', 'bnxt_en', 'hid-generic', 'e1000e', 'I', `m${'o'.repeat(63)}`]);
  });

  it('refuses anything else, wherever it is', () => {
    refuses(kernelModuleName, [
      '',
      ' igb',
      'igb ',
      'i gb',
      '"igb',
      'igb"',
      'ig"b',
      '$x',
      'x;y',
      'a/b',
      'a.ko',
      '\nigb',
      `m${'o'.repeat(64)}`,
    ]);
  });
});
