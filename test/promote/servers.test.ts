import { execFile, spawn } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { projectRoot, runCli } from '../helpers/cli.js';
import { makeTreeSite, makeVersion, type TreeSite } from '../helpers/tree-site.js';

/**
 * The rendered tree through real servers: Debian's tftpd-hpa on a loopback port and dnsmasq
 * in a network namespace of its own, each asked by a real TFTP client (tftp-hpa) for the
 * entry file, a node's config and a kernel, as a node's firmware asks for them.
 */
const execFileP = promisify(execFile);
let site: TreeSite;
const v1 = '20261125T100000Z-11111111';

beforeAll(async () => {
  site = await makeTreeSite();
  await makeVersion(site.store, 'tiny', v1, { size: 300 * 1024 });
  await makeVersion(site.store, 'compute', 'c1');
  for (const [image, version] of [
    ['tiny', v1],
    ['compute', 'c1'],
  ]) {
    const result = await runCli(['promote', `${image}@${version}`, '--channel', 'staging'], site.repo);
    expect(result.exitCode, result.stderr).toBe(0);
  }
});
afterAll(async () => {
  await site.remove();
});

async function freeUdpPortish(): Promise<number> {
  // A free TCP port number is almost always a free UDP one on loopback; the server fails loudly otherwise.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** What the node asks for, in order: entry file, its own config, the kernel that config names. */
const requests = ['boot.ipxe', 'pxelinux.cfg/01-52-54-00-12-34-56', `/pxeforge/images/tiny/${v1}/vmlinuz`];

async function fetchAll(argvPrefix: string[], out: string): Promise<void> {
  for (const [index, file] of requests.entries()) {
    await execFileP(argvPrefix[0]!, [...argvPrefix.slice(1), '-m', 'binary', '-c', 'get', file, path.join(out, String(index))]);
  }
}

async function expectFetched(out: string) {
  expect(await readFile(path.join(out, '0'), 'utf8')).toContain('chain --autofree /pxeforge/generations/2/ipxe/${netX/mac:hexhyp}.ipxe');
  expect(await readFile(path.join(out, '1'), 'utf8')).toContain(`KERNEL /pxeforge/images/tiny/${v1}/vmlinuz`);
  const kernel = await readFile(path.join(out, '2'));
  expect(kernel.equals(await readFile(path.join(site.store, 'images/tiny', v1, 'vmlinuz')))).toBe(true);
}

describe('real TFTP servers serve the rendered tree', () => {
  it('tftpd-hpa (secure mode, loopback port)', async () => {
    const port = await freeUdpPortish();
    const out = path.join(site.dir, 'got-tftpd');
    await execFileP('mkdir', ['-p', out]);
    const server = spawn('in.tftpd', ['--foreground', '--listen', '--address', `127.0.0.1:${port}`, '--secure', '--verbose', site.tftp], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    server.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(server.exitCode, log).toBeNull();
      await fetchAll(['tftp', '127.0.0.1', String(port)], out);
      await expectFetched(out);
    } finally {
      server.kill();
      await new Promise((resolve) => (server.exitCode === null ? server.on('exit', resolve) : resolve(undefined)));
    }
  });

  it('dnsmasq (TFTP on port 69 in a network namespace of its own)', async () => {
    const out = path.join(site.dir, 'got-dnsmasq');
    await execFileP('mkdir', ['-p', out]);
    // One shell in a new network namespace: loopback up, dnsmasq in the background, the client,
    // and dnsmasq stopped; the namespace goes with the last process in it.
    const script = [
      'set -e',
      'ip link set lo up',
      `dnsmasq --keep-in-foreground --port=0 --enable-tftp --tftp-root="$1" --listen-address=127.0.0.1 --bind-interfaces --user=root --pid-file= --log-facility=- &`,
      'server=$!',
      "trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT",
      'sleep 0.3',
      ...requests.map((file, index) => `tftp 127.0.0.1 -m binary -c get '${file}' "$2/${index}"`),
    ].join('\n');
    const result = await execFileP('unshare', ['--net', 'sh', '-c', script, 'sh', site.tftp, out]);
    expect(result.stderr).toContain('dnsmasq-tftp');
    await expectFetched(out);
  });
});

/** What nodes never need: audit log, generation state, placed manifests (user and host names, reasons, package lists). */
const privateFiles = ['pxeforge/history.jsonl', 'pxeforge/generations/2/state.json', `pxeforge/images/tiny/${v1}/manifest.json`];

async function tftpGet(server: string[], file: string, to: string): Promise<'served' | string> {
  return execFileP(server[0]!, [...server.slice(1), '-m', 'binary', '-c', 'get', file, to]).then(
    ({ stdout, stderr }) => (/Error code/i.test(stdout + stderr) ? `${stdout}${stderr}`.trim() : 'served'),
    (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ''}${error.stderr ?? ''}`.trim(),
  );
}

/** Makes the private files world-readable (as an older tree had them); returns their modes as pxeforge wrote them. */
async function openUp(): Promise<number[]> {
  const modes = await Promise.all(privateFiles.map(async (file) => (await stat(path.join(site.tftp, file))).mode & 0o777));
  for (const file of privateFiles) await chmod(path.join(site.tftp, file), 0o644);
  return modes;
}

async function restore(modes: number[]): Promise<void> {
  for (const [index, file] of privateFiles.entries()) await chmod(path.join(site.tftp, file), modes[index]!);
}

async function withTftpd(extra: string[], use: (client: string[]) => Promise<void>): Promise<void> {
  const port = await freeUdpPortish();
  const server = spawn('in.tftpd', ['--foreground', '--listen', '--address', `127.0.0.1:${port}`, '--secure', ...extra, site.tftp], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(server.exitCode).toBeNull();
    await use(['tftp', '127.0.0.1', String(port)]);
  } finally {
    server.kill();
    await new Promise((resolve) => (server.exitCode === null ? server.on('exit', resolve) : resolve(undefined)));
  }
}

describe('what nodes never need is not served', () => {
  it('tftpd-hpa refuses history, state and manifests (not world-readable) and serves the configs', async () => {
    const out = path.join(site.dir, 'private-tftpd');
    await mkdir(out, { recursive: true });
    await withTftpd([], async (client) => {
      for (const [index, file] of privateFiles.entries())
        expect(await tftpGet(client, file, path.join(out, `p${index}`)), file).toMatch(/Error code 0: Permission denied|Error code 2/);
      expect(await tftpGet(client, 'boot.ipxe', path.join(out, 'boot'))).toBe('served');
    });
  });

  it('the shipped tftpd-hpa rules refuse them even when someone made them world-readable', async () => {
    const out = path.join(site.dir, 'private-remap');
    await mkdir(out, { recursive: true });
    const modes = await openUp();
    try {
      await withTftpd(['--map-file', path.join(projectRoot, 'deploy/servers/tftpd-hpa.remap')], async (client) => {
        for (const [index, file] of [...privateFiles, `/${privateFiles[0]}`].entries()) {
          expect(await tftpGet(client, file, path.join(out, `p${index}`)), file).toMatch(/Error code/);
        }
        expect(await tftpGet(client, 'boot.ipxe', path.join(out, 'boot'))).toBe('served');
        expect(await tftpGet(client, `pxeforge/images/tiny/${v1}/vmlinuz`, path.join(out, 'kernel'))).toBe('served');
      });
    } finally {
      await restore(modes);
    }
  });

  it('dnsmasq refuses them and serves the configs', async () => {
    const out = path.join(site.dir, 'private-dnsmasq');
    await mkdir(out, { recursive: true });
    const script = [
      'ip link set lo up',
      `dnsmasq --keep-in-foreground --port=0 --enable-tftp --tftp-root="$1" --listen-address=127.0.0.1 --bind-interfaces --user=root --pid-file= --log-facility=- &`,
      'server=$!',
      "trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT",
      'sleep 0.3',
      ...[...privateFiles, 'boot.ipxe'].map(
        (file, index) => `tftp 127.0.0.1 -m binary -c get '${file}' "$2/${index}" 2>&1 | sed 's|^|${index}: |' || true`,
      ),
    ].join('\n');
    const result = await execFileP('unshare', ['--net', 'sh', '-c', script, 'sh', site.tftp, out]);
    for (const index of privateFiles.keys()) expect(result.stdout, privateFiles[index]).toMatch(new RegExp(`${index}: .*Error code`));
    expect(result.stdout).not.toMatch(new RegExp(`${privateFiles.length}: .*Error`));
    expect(await readFile(path.join(out, String(privateFiles.length)), 'utf8')).toContain('#!ipxe');
  });

  it('nginx with the shipped snippet serves kernels and configs over HTTP, and not the private files', async () => {
    const port = await freeUdpPortish();
    const dir = path.join(site.dir, 'nginx');
    await mkdir(dir, { recursive: true });
    const conf = path.join(dir, 'nginx.conf');
    await writeFile(
      conf,
      [
        'daemon off;',
        'master_process on;',
        'worker_processes 1;',
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/error.log;`,
        'events { worker_connections 64; }',
        'http {',
        `  access_log off; client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;`,
        `  server { listen 127.0.0.1:${port}; root ${site.tftp}; include ${path.join(projectRoot, 'deploy/servers/nginx-pxeforge.conf')}; }`,
        '}',
      ].join('\n'),
    );
    // The test's own directories open to nginx's worker user (nobody), as a real TFTP root is.
    for (let own = site.tftp; own.startsWith(site.dir); own = path.dirname(own)) await chmod(own, 0o755);
    const server = spawn('nginx', ['-c', conf, '-e', path.join(dir, 'error.log')], { stdio: 'ignore' });
    try {
      const get = async (file: string) => {
        for (let attempt = 0; ; attempt += 1) {
          const response = await fetch(`http://127.0.0.1:${port}/${file}`).catch((error: unknown) => error as Error);
          if (!(response instanceof Error)) return response.status;
          if (attempt > 50) throw response;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      };
      expect(await get(`pxeforge/images/tiny/${v1}/vmlinuz`)).toBe(200);
      expect(await get('pxeforge/generations/2/boot.ipxe')).toBe(200);
      for (const file of privateFiles) expect(await get(file), file).toBe(404);
      const modes = await openUp();
      try {
        for (const file of privateFiles) expect(await get(file), `${file} (world-readable)`).toBe(404);
      } finally {
        await restore(modes);
      }
    } finally {
      server.kill('SIGQUIT');
      await new Promise((resolve) => (server.exitCode === null ? server.on('exit', resolve) : resolve(undefined)));
    }
  });
});

describe('GRUB configs', () => {
  it('every rendered GRUB config passes grub-script-check', async () => {
    const dir = path.join(site.tftp, 'pxeforge/generations/2/grub');
    const files = [path.join(dir, 'grub.cfg'), ...(await readdir(path.join(dir, 'groups'))).map((name) => path.join(dir, 'groups', name))];
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const file of files) await expect(execFileP('grub-script-check', [file])).resolves.toBeDefined();
    // The check can fail: a broken script is caught.
    await expect(execFileP('sh', ['-c', 'printf "if true; then\\n" | grub-script-check'])).rejects.toThrow();
    expect(await readFile(path.join(site.tftp, 'grub/grub.cfg-01-52-54-00-00-10-03'), 'utf8')).toContain(
      "menuentry 'compute@c1 (staging)'",
    );
  });
});
