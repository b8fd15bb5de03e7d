import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { execa, type ResultPromise } from 'execa';

import { projectRoot } from './recipe-repo.js';

/**
 * A boot network like a site's, in a network namespace of its own: a bridge with the server's
 * address, real dnsmasq as DHCP and TFTP server (configured from the shipped
 * deploy/servers/dnsmasq-pxeforge-dhcp.conf), real nginx serving the tree over HTTP (the shipped
 * deploy/servers/nginx-pxeforge.conf), and QEMU nodes on tap devices of the bridge that boot
 * from their NIC's PXE ROM. Nothing leaves the namespace: it has no route out, and every
 * process runs inside it.
 *
 * `stop()` ends every process it started (QEMU, dnsmasq, nginx), deletes the namespace and its
 * temp directory; so do the process's exit and SIGINT/SIGTERM, synchronously.
 */

export const serverAddress = '10.77.0.1';
const prefix = 24;
const httpPort = 8080;
const bridge = 'br0';

export interface FleetNode {
  name: string;
  mac: string;
  consoleLog: string;
  pid: number;
  /** The console so far. */
  console(): Promise<string>;
  /** Resolves with the console once `pattern` appears in it; rejects after `timeoutMs` or when QEMU ends. */
  waitForConsole(pattern: RegExp, timeoutMs: number, from?: number): Promise<string>;
  /** A command of QEMU's human monitor (e.g. `system_reset`). */
  monitor(command: string): Promise<void>;
  stop(): Promise<void>;
}

export interface FleetNetwork {
  namespace: string;
  dir: string;
  httpBaseUrl: string;
  /** A command run inside the namespace. */
  exec(argv: readonly string[], options?: { timeout?: number; env?: Record<string, string> }): ResultPromise;
  /** dnsmasq with the shipped example, this network's interface, range and tree, and `hostLines` (dhcp-host lines). */
  startDnsmasq(hostLines: string): Promise<void>;
  /** dnsmasq's log (DHCP and TFTP). */
  dnsmasqLog(): Promise<string>;
  /** nginx's access log. */
  httpLog(): Promise<string>;
  startNode(options: { name: string; mac: string; memoryMiB?: number }): Promise<FleetNode>;
  /** The QEMU monitor socket node `name` has once started: what the fleet's `power-cycle.mjs` (its BMC) is given. */
  monitorSocket(name: string): string;
  /** The pids of every process in the namespace (its own processes: nothing else runs there). */
  processes(): number[];
  /** The pids of every process it started (servers and QEMU), running or not. */
  started(): number[];
  stop(): Promise<void>;
}

/**
 * The shipped example with `values` set: every key of `values` must be a directive of the file
 * (so the example and what is tested cannot drift apart); a key given as a list replaces every
 * line of that directive, in order.
 */
export function renderExample(text: string, values: Record<string, string | string[]>): string {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const line of text.split('\n')) {
    const key = /^([a-z-]+)(=|$)/.exec(line)?.[1];
    if (key === undefined || !(key in values)) {
      lines.push(line);
      continue;
    }
    const value = values[key]!;
    if (seen.has(key)) continue;
    seen.add(key);
    for (const item of Array.isArray(value) ? value : [value]) lines.push(item === '' ? key : `${key}=${item}`);
  }
  const missing = Object.keys(values).filter((key) => !seen.has(key));
  if (missing.length > 0) throw new Error(`the example has no ${missing.join(', ')} line`);
  return lines.join('\n');
}

function ipSync(args: string[]): string {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  return result.status === 0 ? result.stdout : '';
}

function namespacePids(namespace: string): number[] {
  return ipSync(['netns', 'pids', namespace])
    .split('\n')
    .filter((line) => /^\d+$/.test(line))
    .map(Number);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Kills what runs in the namespace (only this network's processes run there), deletes it. Synchronous: usable on exit. */
function teardownSync(namespace: string, pids: Iterable<number>): void {
  for (const pid of [...pids, ...namespacePids(namespace)]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  const deadline = Date.now() + 5000;
  while (namespacePids(namespace).length > 0 && Date.now() < deadline) spawnSync('sleep', ['0.1']);
  spawnSync('ip', ['netns', 'del', namespace]);
}

export async function startFleetNetwork(options: { tftpRoot: string }): Promise<FleetNetwork> {
  const namespace = `pxf-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-fleet-net-'));
  const started = new Set<number>();
  const everStarted: number[] = [];
  let stopped = false;
  const onExit = () => {
    if (!stopped) teardownSync(namespace, started);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    onExit();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const ns = (argv: readonly string[]) => ['netns', 'exec', namespace, ...argv];
  const exec: FleetNetwork['exec'] = (argv, execOptions) =>
    execa('ip', ns(argv), { reject: false, timeout: execOptions?.timeout, env: execOptions?.env, all: true });
  const must = async (argv: readonly string[]) => {
    const result = await execa('ip', [...argv], { reject: false, all: true });
    if (result.exitCode !== 0) throw new Error(`ip ${argv.join(' ')}: ${result.all}`);
  };
  /** A server process of the network, started in the namespace (`ip netns exec` execs it: the pid is its own). */
  const daemon = (argv: readonly string[], log: string) => {
    const child = execa('ip', ns(argv), { reject: false, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = createWriteStream(log, { flags: 'a' });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    if (child.pid !== undefined) {
      started.add(child.pid);
      everStarted.push(child.pid);
    }
    return child;
  };

  const nodes: FleetNode[] = [];
  let dnsmasq: ResultPromise | undefined;
  let nginx: ResultPromise | undefined;
  try {
    // Servers running as their own users (dnsmasq, nginx's workers) read the tree through here.
    await chmod(dir, 0o711);
    await must(['netns', 'add', namespace]);
    await must(ns(['ip', 'link', 'set', 'lo', 'up']));
    await must(ns(['ip', 'link', 'add', bridge, 'type', 'bridge']));
    await must(ns(['ip', 'addr', 'add', `${serverAddress}/${prefix}`, 'dev', bridge]));
    await must(ns(['ip', 'link', 'set', bridge, 'up']));

    const nginxConf = path.join(dir, 'nginx.conf');
    await writeFile(
      nginxConf,
      [
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/nginx-error.log;`,
        'worker_processes 2;',
        'events { worker_connections 256; }',
        'http {',
        '  default_type application/octet-stream;',
        '  sendfile on;',
        `  access_log ${dir}/nginx-access.log;`,
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((temp) => `  ${temp}_temp_path ${dir}/nginx-${temp};`),
        '  server {',
        `    listen ${serverAddress}:${httpPort};`,
        `    root ${options.tftpRoot};`,
        `    include ${path.join(projectRoot, 'deploy/servers/nginx-pxeforge.conf')};`,
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    nginx = daemon(['nginx', '-c', nginxConf, '-g', 'daemon off;'], path.join(dir, 'nginx.out'));
    await waitForPort(namespace, serverAddress, httpPort, 15_000, nginx);
  } catch (error) {
    stopped = true;
    teardownSync(namespace, started);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  let tapCount = 0;
  const network: FleetNetwork = {
    namespace,
    dir,
    httpBaseUrl: `http://${serverAddress}:${httpPort}`,
    exec,
    async startDnsmasq(hostLines) {
      const example = await readFile(path.join(projectRoot, 'deploy/servers/dnsmasq-pxeforge-dhcp.conf'), 'utf8');
      const hosts = path.join(dir, 'dnsmasq-hosts.conf');
      await writeFile(hosts, hostLines);
      const conf = path.join(dir, 'dnsmasq.conf');
      await writeFile(
        conf,
        renderExample(example, {
          interface: bridge,
          'dhcp-range': `${serverAddress.replace(/\.1$/, '.100')},${serverAddress.replace(/\.1$/, '.199')},255.255.255.0,1h`,
          'tftp-root': options.tftpRoot,
          'conf-file': hosts,
        }),
      );
      const pidFile = path.join(dir, 'dnsmasq.pid');
      dnsmasq = daemon(
        [
          'dnsmasq',
          '--keep-in-foreground',
          `--conf-file=${conf}`,
          `--pid-file=${pidFile}`,
          `--log-facility=${path.join(dir, 'dnsmasq.log')}`,
        ],
        path.join(dir, 'dnsmasq.out'),
      );
      const deadline = Date.now() + 10_000;
      while (!existsSync(pidFile)) {
        if (dnsmasq.exitCode !== undefined && dnsmasq.exitCode !== null)
          throw new Error(`dnsmasq ended: ${await readFile(path.join(dir, 'dnsmasq.out'), 'utf8').catch(() => '')}`);
        if (Date.now() > deadline) throw new Error('dnsmasq did not start in 10 s');
        await sleep(100);
      }
    },
    dnsmasqLog: () => readFile(path.join(dir, 'dnsmasq.log'), 'utf8').catch(() => ''),
    httpLog: () => readFile(path.join(dir, 'nginx-access.log'), 'utf8').catch(() => ''),
    async startNode({ name, mac, memoryMiB = 1536 }) {
      const tap = `tap${tapCount++}`;
      await must(ns(['ip', 'tuntap', 'add', 'dev', tap, 'mode', 'tap']));
      await must(ns(['ip', 'link', 'set', tap, 'master', bridge]));
      await must(ns(['ip', 'link', 'set', tap, 'up']));
      const consoleLog = path.join(dir, `${name}.console.log`);
      const monitorSocket = network.monitorSocket(name);
      await writeFile(consoleLog, '');
      const child = daemon(
        [
          'qemu-system-x86_64',
          ...['-machine', 'q35', '-accel', 'tcg', '-cpu', 'max', '-smp', '1', '-m', String(memoryMiB)],
          ...['-boot', 'n', '-netdev', `tap,id=n0,ifname=${tap},script=no,downscript=no`],
          ...['-device', `virtio-net-pci,netdev=n0,mac=${mac}`],
          ...['-display', 'none', '-serial', `file:${consoleLog}`, '-monitor', `unix:${monitorSocket},server,nowait`],
        ],
        path.join(dir, `${name}.qemu.out`),
      );
      const pid = child.pid!;
      const read = () => readFile(consoleLog, 'utf8').catch(() => '');
      const node: FleetNode = {
        name,
        mac,
        consoleLog,
        pid,
        console: read,
        async waitForConsole(pattern, timeoutMs, from = 0) {
          const deadline = Date.now() + timeoutMs;
          for (;;) {
            const text = await read();
            if (pattern.test(text.slice(from))) return text;
            if (!alive(pid)) throw new Error(`${name}: QEMU ended before ${pattern} on the console:\n${text.slice(-3000)}`);
            if (Date.now() > deadline)
              throw new Error(`${name}: no ${pattern} on the console in ${timeoutMs / 1000} s:\n${text.slice(-3000)}`);
            await sleep(500);
          }
        },
        async monitor(command) {
          const deadline = Date.now() + 10_000;
          for (;;) {
            try {
              await new Promise<void>((resolve, reject) => {
                const socket = createConnection(monitorSocket, () => socket.end(`${command}\n`));
                socket.on('error', reject);
                socket.on('close', () => resolve());
                socket.resume();
              });
              return;
            } catch (error) {
              if (Date.now() > deadline) throw error;
              await sleep(200);
            }
          }
        },
        async stop() {
          if (alive(pid)) process.kill(pid, 'SIGTERM');
          await child;
          started.delete(pid);
        },
      };
      nodes.push(node);
      return node;
    },
    monitorSocket: (name) => path.join(dir, `${name}.monitor`),
    processes: () => namespacePids(namespace),
    started: () => [...everStarted],
    async stop() {
      if (stopped) return;
      for (const node of nodes) await node.stop().catch(() => undefined);
      for (const server of [dnsmasq, nginx]) {
        if (server?.pid !== undefined && alive(server.pid)) process.kill(server.pid, 'SIGTERM');
        await server;
      }
      stopped = true;
      teardownSync(namespace, started);
      process.off('exit', onExit);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return network;
}

/** Whether a network namespace of this name exists. */
export function namespaceExists(namespace: string): boolean {
  return ipSync(['netns', 'list'])
    .split('\n')
    .some((line) => line.split(' ')[0] === namespace);
}

async function waitForPort(namespace: string, host: string, port: number, timeoutMs: number, server: ResultPromise): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const probe = await execa('ip', ['netns', 'exec', namespace, 'bash', '-c', `exec 3<>/dev/tcp/${host}/${port}`], { reject: false });
    if (probe.exitCode === 0) return;
    if (server.exitCode !== undefined && server.exitCode !== null) throw new Error(`the server ended (exit ${server.exitCode})`);
    if (Date.now() > deadline) throw new Error(`nothing answered on ${host}:${port} in ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

/** The iPXE loaders a site puts beside the tree for firmware that is not iPXE already (BIOS PXE ROMs, UEFI). */
export async function placeIpxeLoaders(tftpRoot: string): Promise<void> {
  await mkdir(tftpRoot, { recursive: true });
  for (const file of ['undionly.kpxe', 'ipxe.efi']) await copyFile(path.join('/usr/lib/ipxe', file), path.join(tftpRoot, file));
}
