import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { imageAccounts, parseIdFile } from '../../src/image/accounts.js';

let dir: string;
let root: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-accounts-'));
  root = path.join(dir, 'root');
  await mkdir(path.join(root, 'etc'), { recursive: true });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('image accounts', () => {
  it('reads users and groups (name → id) from passwd and group lines', () => {
    const passwd = [
      'root:x:0:0:root:/root:/bin/bash',
      'munge:x:998:998::/nonexistent:/usr/sbin/nologin',
      '# a comment',
      '',
      '+nisuser::::::',
      'broken:x:notanumber:0::/:/bin/sh',
      'short',
      'root:x:5:5:second root:/:/bin/sh',
    ].join('\n');
    expect(parseIdFile(passwd)).toEqual({ root: 0, munge: 998 });
    expect(parseIdFile('root:x:0:\nslurm:x:64030:slurm\n')).toEqual({ root: 0, slurm: 64030 });
  });

  it("reads the image's own files, a link resolved inside the image and never on the host", async () => {
    await mkdir(path.join(root, 'shared'));
    await writeFile(path.join(root, 'shared/passwd'), 'root:x:0:0::/root:/bin/sh\nmunge:x:998:998::/:/bin/false\n');
    await symlink('/shared/passwd', path.join(root, 'etc/passwd'));
    // /etc/group points at a host path by an absolute link: inside the image it is missing.
    await writeFile(path.join(dir, 'host-group'), 'root:x:0:\nhostonly:x:4242:\n');
    await symlink(path.join(dir, 'host-group'), path.join(root, 'etc/group'));
    expect(await imageAccounts(root)).toEqual({ users: { root: 0, munge: 998 }, groups: {} });
  });
});
