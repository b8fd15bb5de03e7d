import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { nginxAccessRules } from '../../src/promote/access-rules.js';

const a = `pxeforge/nodes/${'a'.repeat(64)}.cpio`;
const b = `pxeforge/nodes/${'b'.repeat(64)}.cpio`;
const orphan = `pxeforge/nodes/${'c'.repeat(64)}.cpio`;

describe('nginx access rules for node archives', () => {
  it('one exact location per archive with its nodes, a default deny, and the nodes without an address', () => {
    const { text, withoutAddress } = nginxAccessRules(
      [
        { host: 'cn002', archive: b, ip: '10.0.0.2/24' },
        { host: 'cn001', archive: a, ip: '10.0.0.1' },
        { host: 'cn003', archive: a, ip: '10.0.0.3' },
        { host: 'cn004', archive: b, ip: undefined },
      ],
      { generation: 7, prefix: '/tftp/' },
    );
    expect(text).toContain(`location = /tftp/${a} {\n    allow 10.0.0.1;\n    allow 10.0.0.3;\n    deny all;\n}\n`);
    expect(text).toContain(`location = /tftp/${b} {\n    allow 10.0.0.2;\n    deny all;\n}\n`);
    expect(text).toContain('location ^~ /tftp/pxeforge/nodes/ {\n    deny all;\n}\n');
    expect(withoutAddress).toEqual(['cn004']);
    expect(() =>
      nginxAccessRules([{ host: 'x', archive: 'pxeforge/nodes/../../etc/passwd', ip: '10.0.0.1' }], { generation: 1, prefix: '' }),
    ).toThrow();
    expect(() => nginxAccessRules([], { generation: 1, prefix: '/a;b' })).toThrow();
  });
});

describe('nginx access rules, served by a real nginx on loopback', () => {
  let dir: string;
  let nginx: ChildProcess;
  let port: number;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-nginx-'));
    const root = path.join(dir, 'tftp');
    await mkdir(path.join(root, 'pxeforge/nodes'), { recursive: true });
    for (const file of [a, b, orphan]) await writeFile(path.join(root, file), `archive ${file}`);
    const { text } = nginxAccessRules(
      [
        { host: 'cn001', archive: a, ip: '127.0.0.2' },
        { host: 'cn002', archive: b, ip: '127.0.0.3' },
      ],
      { generation: 1, prefix: '' },
    );
    await writeFile(path.join(dir, 'node-archives.conf'), text);
    port = await freePort();
    await writeFile(
      path.join(dir, 'nginx.conf'),
      [
        'user root;',
        'daemon off;',
        'master_process off;',
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/error.log;`,
        'events {}',
        'http {',
        '  access_log off;',
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${dir}/${kind};`),
        '  server {',
        `    listen 127.0.0.1:${port};`,
        `    root ${root};`,
        `    include ${dir}/node-archives.conf;`,
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    nginx = spawn('nginx', ['-c', path.join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' });
    for (let i = 0; i < 100; i += 1) {
      if (
        await get('127.0.0.1', `/${a}`).then(
          () => true,
          () => false,
        )
      )
        return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('nginx did not start');
  });
  afterAll(async () => {
    nginx?.kill();
    await rm(dir, { recursive: true, force: true });
  });

  function get(from: string, urlPath: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const request = http.get({ host: '127.0.0.1', port, path: urlPath, localAddress: from }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      });
      request.on('error', reject);
    });
  }

  it("serves each archive to its node's address only, and nothing else of the directory", async () => {
    expect(await get('127.0.0.2', `/${a}`)).toEqual({ status: 200, body: `archive ${a}` });
    expect((await get('127.0.0.3', `/${a}`)).status).toBe(403);
    expect(await get('127.0.0.3', `/${b}`)).toEqual({ status: 200, body: `archive ${b}` });
    expect((await get('127.0.0.2', `/${b}`)).status).toBe(403);
    expect((await get('127.0.0.2', `/${orphan}`)).status).toBe(403);
    expect((await get('127.0.0.1', '/pxeforge/nodes/')).status).toBe(403);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
