#!/usr/bin/env node
// Boot storm benchmark (run through scripts/bench-boot-storm): N nodes booting at once from one
// server on loopback. A tree with a kernel, an initrd and a squashfs of real (random) bytes is
// served by tftpd-hpa (--secure, --blocksize 1468) and nginx (sendfile, with the shipped
// deploy/servers rules); N TFTP clients fetch kernel + initrd as iPXE does (one after the other,
// blksize option 1468, RFC 2347/2348), then N HTTP clients fetch the squashfs as dracut's livenet
// does (one GET each). Every client is its own curl process. Prints, for each N and protocol,
// total wall time, aggregate throughput, the slowest client's time and failures.
//
// Everything it starts (tftpd-hpa, nginx, the clients) is stopped and the temporary directory is
// removed on exit, on error and on SIGINT/SIGTERM/SIGHUP.
import { spawn } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { appendFileSync, closeSync, createReadStream, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const usage = `usage: bench-boot-storm [options]
  --clients 50,200,500     concurrent clients, one run per number (each protocol)
  --kernel-size 8M         kernel size (K, M, G: powers of 1000)
  --initrd-size 60M        initrd size
  --tftp-initrd-size 8M    the initrd the TFTP clients fetch: smaller than --initrd-size by default,
                           since lockstep TFTP of 68 MB to 500 clients takes far longer than the
                           5 minutes this benchmark is bounded to on 2 cores; the full initrd with
                           --tftp-initrd-size 60M
  --squashfs-size 150M     squashfs size (fetched over HTTP)
  --blksize 1468           TFTP block size (server maximum and client option)
  --protocols tftp,http    which sides to measure
  --client-timeout 240     seconds before a client is counted as failed and stopped
  --verify                 keep every download and compare its sha256 with the served file
  --pids-file FILE         append "<kind> <pid>" for every process started, and "dir <path>" for the
                           temporary directory (for tests)
  --json                   also print the results as one JSON line`;

const { values: flags } = parseArgs({
  options: {
    clients: { type: 'string', default: '50,200,500' },
    'kernel-size': { type: 'string', default: '8M' },
    'initrd-size': { type: 'string', default: '60M' },
    'tftp-initrd-size': { type: 'string', default: '8M' },
    'squashfs-size': { type: 'string', default: '150M' },
    blksize: { type: 'string', default: '1468' },
    protocols: { type: 'string', default: 'tftp,http' },
    'client-timeout': { type: 'string', default: '240' },
    verify: { type: 'boolean', default: false },
    'pids-file': { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  console.log(usage);
  process.exit(0);
}

function bytes(text, flag) {
  const match = /^(\d+(?:\.\d+)?)([KMG]?)B?$/i.exec(text);
  if (match === null) throw new Error(`--${flag}: expected a size such as 8M, got ${JSON.stringify(text)}`);
  return Math.round(Number(match[1]) * 1000 ** ' KMG'.indexOf((match[2] || ' ').toUpperCase()));
}
function count(text, flag) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${flag}: expected a positive whole number, got ${JSON.stringify(text)}`);
  return value;
}
const options = {
  clients: flags.clients.split(',').map((n) => count(n.trim(), 'clients')),
  kernel: bytes(flags['kernel-size'], 'kernel-size'),
  initrd: bytes(flags['initrd-size'], 'initrd-size'),
  tftpInitrd: bytes(flags['tftp-initrd-size'], 'tftp-initrd-size'),
  squashfs: bytes(flags['squashfs-size'], 'squashfs-size'),
  blksize: count(flags.blksize, 'blksize'),
  protocols: flags.protocols.split(',').map((p) => p.trim()),
  timeout: count(flags['client-timeout'], 'client-timeout'),
};
for (const protocol of options.protocols)
  if (protocol !== 'tftp' && protocol !== 'http') throw new Error(`--protocols: tftp or http, got ${JSON.stringify(protocol)}`);

const mb = (n) => (n / 1e6).toFixed(1);
const seconds = (ms) => (ms / 1000).toFixed(2);

let stopping;
/** Every process started here, still running or not: stopped (with its process group when it has one) by stopAll. */
const started = new Set();
function track(kind, child, group) {
  if (stopping !== undefined) {
    // Stopping already (a signal arrived): nothing new runs.
    child.kill('SIGKILL');
    throw new Error('stopped');
  }
  const exited = new Promise((resolve) => {
    child.once('close', resolve);
    child.once('error', () => resolve(-1));
  });
  const entry = { kind, child, group, exited };
  started.add(entry);
  exited.then(() => started.delete(entry));
  if (flags['pids-file'] !== undefined && child.pid !== undefined) appendFileSync(flags['pids-file'], `${kind} ${child.pid}\n`);
  return entry;
}

/** The running (not zombie) members of process group `pgid`. */
function groupMembers(pgid) {
  try {
    process.kill(-pgid, 0);
  } catch {
    return [];
  }
  // kill(2) also succeeds for zombies, which are gone for our purpose: look at the members' states.
  const members = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z') members.push(Number(name));
  }
  return members;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits up to `ms` for `entries` (and their process groups) to end, then kills what is left. */
async function settle(entries, ms) {
  const deadline = Date.now() + ms;
  const ended = (entry) =>
    entry.child.exitCode !== null || entry.child.signalCode !== null ? !entry.group || groupMembers(entry.child.pid).length === 0 : false;
  while (!entries.every(ended) && Date.now() < deadline) await sleep(20);
  for (const entry of entries) {
    if (ended(entry)) continue;
    try {
      if (entry.group) process.kill(-entry.child.pid, 'SIGKILL');
      else entry.child.kill('SIGKILL');
    } catch {}
  }
  await Promise.all(entries.map((entry) => entry.exited));
}

async function stopAll() {
  stopping ??= (async () => {
    const entries = [...started];
    // Clients first, so that no new transfer starts; then the servers, each the way it stops cleanly.
    const clients = entries.filter((entry) => !entry.group);
    for (const entry of clients) entry.child.kill('SIGTERM');
    await settle(clients, 2000);
    const servers = entries.filter((entry) => entry.group);
    for (const entry of servers) entry.stop();
    await settle(servers, 3000);
  })();
  return stopping;
}

let work;
async function cleanUp() {
  await stopAll();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
}
for (const [name, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
  ['SIGHUP', 129],
]) {
  process.once(name, () => {
    console.error(`bench-boot-storm: ${name}, stopping servers and clients`);
    cleanUp().finally(() => process.exit(code));
  });
}

/** A file of `size` random bytes; returns its sha256. */
function makeFile(file, size) {
  const hash = createHash('sha256');
  const chunk = Buffer.alloc(1 << 20);
  const fd = openSync(file, 'w', 0o644);
  try {
    for (let left = size; left > 0; left -= chunk.length) {
      const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
      randomFillSync(part);
      hash.update(part);
      writeSync(fd, part);
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

async function sha256(file) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk);
  return hash.digest('hex');
}

async function freePort(kind) {
  if (kind === 'udp') {
    const socket = createSocket('udp4');
    await new Promise((resolve, reject) => socket.once('error', reject).bind(0, '127.0.0.1', resolve));
    const { port } = socket.address();
    await new Promise((resolve) => socket.close(resolve));
    return port;
  }
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Runs curl to completion (no tracking needed: readiness probes end within --max-time). */
function curl(args) {
  return new Promise((resolve) => {
    const child = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const entry = track('probe', child, false);
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.resume();
    entry.exited.then((code) => resolve({ code, out }));
  });
}

async function waitReady(what, url, server) {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) throw new Error(`${what} exited: ${server.log()}`);
    const { code, out } = await curl(['--silent', '--max-time', '1', '--output', '-', url]);
    if (code === 0 && out === 'ready\n') return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not answer on ${url}: ${server.log()}`);
}

/**
 * `stop` ends the server cleanly: tftpd-hpa's per-transfer children do not end on SIGTERM and are
 * killed first, while their parent still reaps them; nginx stops its own workers on SIGTERM.
 */
function startServer(kind, command, args, stop) {
  // A process group of its own: tftpd-hpa forks one child per transfer, nginx its workers.
  const child = spawn(command, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (chunk) => (log += chunk));
  const entry = track(kind, child, true);
  entry.stop = () => {
    try {
      stop(child.pid);
    } catch {}
  };
  return { ...entry, log: () => log.trim() };
}

/** nginx's workers, recorded too so that a caller can check each of them is gone afterwards. */
function recordChildren(kind, pid) {
  if (flags['pids-file'] === undefined) return;
  let children = '';
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
  } catch {}
  for (const child of children.split(' ').filter(Boolean)) appendFileSync(flags['pids-file'], `${kind} ${child}\n`);
}

/**
 * One client: one curl process fetching `urls` one after the other (as a node does). It waits at a
 * gate (a shell reading a line, then exec'ing curl with the arguments as they are) so that all N
 * clients are started first and then released at once: spawning hundreds of processes from here
 * takes seconds under load, which would otherwise spread the start of the storm.
 */
function client(curlOptions, downloads) {
  const args = ['--silent', '--show-error', '--max-time', String(options.timeout), ...curlOptions];
  for (const { url, to } of downloads) args.push('--write-out', '%{size_download}\\n', '--output', to, url);
  const child = spawn('sh', ['-c', 'read -r go && exec "$@"', 'sh', 'curl', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const entry = track('client', child, false);
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (err += chunk));
  child.stdin.on('error', () => {});
  return {
    release() {
      const begin = performance.now();
      child.stdin.end('go\n');
      const killer = setTimeout(() => child.kill('SIGKILL'), (options.timeout + 10) * 1000);
      return entry.exited.then((code) => {
        clearTimeout(killer);
        return { code, ms: performance.now() - begin, sizes: out.trim().split('\n').map(Number), error: err.trim() };
      });
    },
  };
}

async function storm(protocol, n, base, files) {
  const wanted = protocol === 'tftp' ? [files.kernel, files.tftpInitrd] : [files.squashfs];
  const curlOptions = protocol === 'tftp' ? ['--tftp-blksize', String(options.blksize)] : ['--fail'];
  const out = path.join(work, 'got', `${protocol}-${n}`);
  if (flags.verify) await mkdir(out, { recursive: true });
  const clients = [];
  for (let i = 0; i < n; i += 1)
    clients.push(
      client(
        curlOptions,
        wanted.map((file, k) => ({ url: `${base}/${file.rel}`, to: flags.verify ? path.join(out, `${i}-${k}`) : '/dev/null' })),
      ),
    );
  const begin = performance.now();
  const results = await Promise.all(clients.map((one) => one.release()));
  const wallMs = performance.now() - begin;
  let failures = 0;
  let delivered = 0;
  const errors = new Set();
  const digests = [];
  for (const [i, result] of results.entries()) {
    let ok = result.code === 0 && wanted.every((file, k) => result.sizes[k] === file.size);
    if (ok && flags.verify) {
      const got = await Promise.all(wanted.map((_, k) => sha256(path.join(out, `${i}-${k}`))));
      digests.push(got);
      if (got.some((digest, k) => digest !== wanted[k].sha256)) ok = false;
    }
    if (ok) delivered += wanted.reduce((sum, file) => sum + file.size, 0);
    else {
      failures += 1;
      errors.add(result.error || `exit ${result.code}, sizes ${result.sizes.join('+')}`);
    }
  }
  if (flags.verify) await rm(out, { recursive: true, force: true });
  return {
    protocol,
    clients: n,
    eachBytes: wanted.reduce((sum, file) => sum + file.size, 0),
    wallMs: Math.round(wallMs),
    mbPerS: Number((delivered / 1e6 / (wallMs / 1000)).toFixed(1)),
    slowestMs: Math.round(Math.max(...results.map((r) => r.ms))),
    medianMs: Math.round(results.map((r) => r.ms).sort((a, b) => a - b)[Math.floor(results.length / 2)]),
    failures,
    errors: [...errors].slice(0, 3),
    ...(flags.verify ? { digests } : {}),
  };
}

try {
  work = await mkdtemp(path.join(os.tmpdir(), 'pxeforge-bench-storm-'));
  await chmod(work, 0o755);
  if (flags['pids-file'] !== undefined) appendFileSync(flags['pids-file'], `dir ${work}\n`);
  const tree = path.join(work, 'tftp');
  const dir = path.join(tree, 'pxeforge/images/compute/storm');
  await mkdir(dir, { recursive: true, mode: 0o755 });
  for (let at = dir; at !== work; at = path.dirname(at)) await chmod(at, 0o755);
  const file = (name, size) => ({ rel: `pxeforge/images/compute/storm/${name}`, size, sha256: makeFile(path.join(dir, name), size) });
  const files = {
    kernel: file('vmlinuz', options.kernel),
    initrd: file('initrd.img', options.initrd),
    squashfs: file('rootfs.squashfs', options.squashfs),
  };
  files.tftpInitrd = options.tftpInitrd === options.initrd ? files.initrd : file('initrd-tftp.img', options.tftpInitrd);
  await writeFile(path.join(tree, 'ready'), 'ready\n', { mode: 0o644 });

  const tftpPort = await freePort('udp');
  const tftpd = startServer(
    'tftpd',
    'in.tftpd',
    ['--foreground', '--listen', '--address', `127.0.0.1:${tftpPort}`, '--secure', '--blocksize', String(options.blksize), tree],
    (pid) => {
      for (const member of groupMembers(pid)) if (member !== pid) process.kill(member, 'SIGKILL');
      process.kill(pid, 'SIGTERM');
    },
  );
  const httpPort = await freePort('tcp');
  const conf = path.join(work, 'nginx.conf');
  const shipped = fileURLToPath(new URL('../deploy/servers/nginx-pxeforge.conf', import.meta.url));
  await writeFile(
    conf,
    [
      'daemon off;',
      'master_process on;',
      'worker_processes auto;',
      'worker_rlimit_nofile 16384;',
      `pid ${work}/nginx.pid;`,
      `error_log ${work}/nginx-error.log;`,
      'events { worker_connections 4096; }',
      'http {',
      '  access_log off;',
      '  sendfile on;',
      '  tcp_nopush on;',
      `  client_body_temp_path ${work}/body; proxy_temp_path ${work}/proxy; fastcgi_temp_path ${work}/fcgi; uwsgi_temp_path ${work}/uwsgi; scgi_temp_path ${work}/scgi;`,
      `  server { listen 127.0.0.1:${httpPort} backlog=4096; root ${tree}; include ${shipped}; }`,
      '}',
      '',
    ].join('\n'),
  );
  const nginx = startServer('nginx', 'nginx', ['-c', conf, '-e', path.join(work, 'nginx-error.log')], (pid) =>
    process.kill(pid, 'SIGTERM'),
  );
  const tftpBase = `tftp://127.0.0.1:${tftpPort}`;
  const httpBase = `http://127.0.0.1:${httpPort}`;
  await waitReady('tftpd-hpa', `${tftpBase}/ready`, tftpd);
  await waitReady('nginx', `${httpBase}/ready`, nginx);
  recordChildren('nginx-worker', nginx.child.pid);

  const cores = os.cpus().length;
  console.log(
    `pxeforge boot storm, ${new Date().toISOString()}, ${cores} cores, loopback (clients and servers share the cores); ` +
      `tftpd-hpa --secure --blocksize ${options.blksize}, nginx sendfile on, worker_processes auto`,
  );
  console.log(
    `tree: kernel ${mb(files.kernel.size)} MB, initrd ${mb(files.initrd.size)} MB, squashfs ${mb(files.squashfs.size)} MB; ` +
      `each TFTP client fetches kernel + ${files.tftpInitrd === files.initrd ? 'initrd' : `an initrd of ${mb(files.tftpInitrd.size)} MB (--tftp-initrd-size: lockstep TFTP of the full initrd to hundreds of clients would not fit the 5-minute bound)`}, ` +
      `blksize ${options.blksize}; each HTTP client fetches the squashfs in one GET${flags.verify ? '; every download checked by sha256' : '; every download checked by size'}`,
  );
  const header = [
    'protocol',
    'clients',
    'each (MB)',
    'wall (s)',
    'aggregate (MB/s)',
    'slowest client (s)',
    'median client (s)',
    'failures',
  ];
  const widths = [8, 7, 9, 8, 16, 18, 17, 8];
  const row = (cells) => cells.map((cell, i) => String(cell).padStart(widths[i])).join('  ');
  console.log(row(header));
  const results = [];
  for (const n of options.clients) {
    for (const protocol of options.protocols) {
      const result = await storm(protocol, n, protocol === 'tftp' ? tftpBase : httpBase, files);
      if (stopping !== undefined) break;
      results.push(result);
      console.log(
        row([
          protocol,
          n,
          mb(result.eachBytes),
          seconds(result.wallMs),
          result.mbPerS.toFixed(1),
          seconds(result.slowestMs),
          seconds(result.medianMs),
          result.failures,
        ]),
      );
      for (const error of result.errors) console.log(`  failure: ${error}`);
    }
  }
  if (flags.json) console.log(JSON.stringify({ cores, files, results }));
  if (results.some((result) => result.failures > 0)) process.exitCode = 1;
} catch (error) {
  console.error(`bench-boot-storm: ${error instanceof Error ? error.message : error}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
