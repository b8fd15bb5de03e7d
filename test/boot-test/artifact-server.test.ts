import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { writeGuestRelay } from '../../src/boot-test/guest-relay.js';
import { projectRoot } from '../helpers/cli.js';

/** Sends raw bytes, returns the status code of the answer (0 if the connection closed without one). */
async function rawRequest(port: number, request: string | Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error('no answer within 5 s')), 5000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? undefined : reject(error)));
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    });
    socket.write(request);
  });
}

const get = (target: string, headers = '') => `GET ${target} HTTP/1.1\r\nHost: 10.0.2.2\r\n${headers}Connection: close\r\n\r\n`;

/** Each request and the statuses it may get: every bad one a 4xx. */
const corpus: [string, string | Buffer, number[]][] = [
  ['a lone percent sign', get('/%'), [400]],
  ['a bad percent escape', get('/%zz'), [400]],
  ['an encoded NUL', get('/vmlinuz%00'), [400]],
  ['a raw NUL in the request line', Buffer.from('GET /vml\0inuz HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1'), [400]],
  ['encoded ../ to /etc/passwd', get('/..%2f..%2fetc/passwd'), [400, 404]],
  ['dot segments to /etc/passwd', get('/%2e%2e/%2e%2e/etc/passwd'), [400, 404]],
  ['plain ../ to a served file', get('/x/../vmlinuz'), [400, 404]],
  ['absolute-form target', get('http://evil.example/vmlinuz'), [400]],
  ['asterisk-form target', 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', [400, 405]],
  ['a long path', get(`/${'a'.repeat(4000)}`), [414]],
  ['a path past the header limit', get(`/${'a'.repeat(100_000)}`), [414, 431]],
  ['DELETE', 'DELETE /vmlinuz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', [405]],
  ['PUT with a body', 'PUT /vmlinuz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc', [405]],
  ['an unknown method', 'BREW /vmlinuz HTTP/1.1\r\nHost: x\r\n\r\n', [400, 405]],
  ['CONNECT', 'CONNECT 10.0.2.2:22 HTTP/1.1\r\nHost: 10.0.2.2:22\r\n\r\n', [400, 405]],
  [
    'an upgrade to websocket',
    get('/vmlinuz', 'Upgrade: websocket\r\nConnection: Upgrade\r\n').replace('Connection: close\r\n', ''),
    [200, 400, 405],
  ],
  ['a negative Content-Length', 'GET /vmlinuz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', [400]],
  ['not HTTP at all', Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, 0x0d, 0x0a, 0x0d, 0x0a]), [400]],
  ['a malformed Range', get('/vmlinuz', 'Range: bytes=abc\r\n'), [200, 416]],
  ['a backwards Range', get('/vmlinuz', 'Range: bytes=9-1\r\n'), [200, 416]],
  ['a Range past the end', get('/vmlinuz', 'Range: bytes=999999-\r\n'), [416]],
  [
    'a thousand Ranges',
    get('/vmlinuz', `Range: bytes=${Array.from({ length: 1000 }, (_, i) => `${i}-${i}`).join(',')}\r\n`),
    [200, 206, 416],
  ],
  ['a file that is not served', get('/manifest.json'), [404]],
  ['a served name that is a symlink out of the version directory', get('/outside'), [403, 404]],
  ['a directory', get('/'), [404]],
  ['HEAD of a served file', 'HEAD /vmlinuz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', [200]],
];

let dir: string;
let server: ResultPromise;
let port: number;
const log: { type: string; message?: string }[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-serve-'));
  const version = path.join(dir, 'version');
  await mkdir(version);
  await writeFile(path.join(version, 'vmlinuz'), 'kernel bytes');
  await writeFile(path.join(version, 'initrd.img'), 'initrd bytes');
  await writeFile(path.join(dir, 'secret'), 'host secret');
  await symlink(path.join(dir, 'secret'), path.join(version, 'outside'));
  server = execa(
    path.join(projectRoot, 'node_modules/.bin/vite-node'),
    [path.join(projectRoot, 'test/boot-test/fixtures/artifact-server-child.ts'), version],
    { reject: false, cwd: projectRoot },
  );
  port = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    server.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (;;) {
        const end = buffered.indexOf('\n');
        if (end < 0) break;
        const line = JSON.parse(buffered.slice(0, end)) as { port?: number; type: string; message?: string };
        buffered = buffered.slice(end + 1);
        if (line.port !== undefined) resolve(line.port);
        else log.push(line);
      }
    });
    void server.then((result) => reject(new Error(`the server ended: ${result.stderr}`)));
  });
}, 60_000);
afterAll(async () => {
  server?.kill('SIGTERM');
  await server;
  await rm(dir, { recursive: true, force: true });
});

describe('the artifact server under hostile requests', () => {
  it.each(corpus)('%s: a 4xx (or the right answer), a log line, and the server lives on', async (_name, request, statuses) => {
    const before = log.length;
    const answer = await rawRequest(port, request);
    expect(statuses).toContain(answer.status);
    expect(answer.text).not.toContain('host secret');
    expect(server.exitCode).toBeNull();
    // The log line may follow the answer by a moment.
    await expect.poll(() => log.length, { timeout: 2000 }).toBeGreaterThan(before);
    expect(log.at(-1)!.message).toContain(`→ ${answer.status}`);
  });

  it('still serves a good request afterwards, whole and by Range', async () => {
    expect((await rawRequest(port, get('/vmlinuz'))).text).toMatch(/^HTTP\/1\.1 200 [\s\S]*\r\n\r\nkernel bytes$/);
    expect((await rawRequest(port, get('/initrd.img', 'Range: bytes=7-11\r\n'))).text).toMatch(/^HTTP\/1\.1 206 [\s\S]*\r\n\r\nbytes$/);
    expect(server.exitCode).toBeNull();
  });
});

describe('the relay QEMU runs for each guest connection', () => {
  it("carries the guest's request to the artifact server and the answer back, and then ends", async () => {
    const relay = await writeGuestRelay(dir);
    // QEMU hands the relay one end of a socket pair as stdin, stdout and stderr; the guest holds the other.
    const listener = createServer().listen(path.join(dir, 'guest.sock'));
    await once(listener, 'listening');
    const guest = connect(path.join(dir, 'guest.sock'));
    const [qemuSide] = (await once(listener, 'connection')) as [Socket];
    const child = spawn(relay[0]!, [...relay.slice(1), String(port)], { stdio: [qemuSide, qemuSide, qemuSide] });
    qemuSide.destroy();
    try {
      const chunks: Buffer[] = [];
      guest.on('data', (chunk: Buffer) => chunks.push(chunk));
      guest.write(get('/vmlinuz'));
      await once(guest, 'end');
      expect(Buffer.concat(chunks).toString()).toMatch(/^HTTP\/1\.1 200 [\s\S]*\r\n\r\nkernel bytes$/);
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(0);
    } finally {
      guest.destroy();
      child.kill('SIGKILL');
      listener.close();
    }
  });
});
