import ssh2 from 'ssh2';

import type { SshSession } from '../boot-test/ssh.js';
import { hostKeyFingerprint } from '../nodes/host-keys.js';

const { Client } = ssh2;

export interface NodeTarget {
  address: string;
  port: number;
  user: string;
  /** The fleet's private key (OpenSSH or PEM). */
  privateKey: Buffer;
  /** Fingerprints (`SHA256:…`) the node may present; anything else is refused. */
  hostKeys: readonly string[];
  /** Connect and handshake (readNode: and the command too). */
  timeoutMs: number;
  signal: AbortSignal;
}

/** The most of each of stdout and stderr a command's result keeps (the rest is read and dropped). */
export const maxExecOutput = 64 * 1024;

export interface NodeExecResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  timedOut: boolean;
  /** More than `maxBytes` came: the output is cut (and with `stopAtLimit`, the command was not waited for). */
  truncated: boolean;
  /** The command could not run or the connection ended under it, in pxeforge's words. */
  problem?: string;
}

/** A session to a node: an `SshSession` (what checks run over) plus commands with their own limits. */
export interface NodeSession extends SshSession {
  run(command: string, options: { timeoutMs: number; maxBytes?: number; stopAtLimit?: boolean }): Promise<NodeExecResult>;
}

/**
 * Opens an SSH session to a node. The host key must be one of `hostKeys`: an unknown key ends
 * the handshake before authentication. Connecting ends by `timeoutMs`; the session ends when
 * `signal` aborts (commands then end with the problem `stopped`). Problems are pxeforge's own
 * words; nothing the node sent is in them. The caller closes the session.
 */
export function openNodeSession(target: NodeTarget): Promise<{ session: NodeSession } | { problem: string }> {
  return new Promise((resolve) => {
    const client = new Client();
    let opened = false;
    let ended = false;
    let keyMismatch = false;
    let endProblem = 'ssh: the connection was closed';
    const running = new Set<(problem: string) => void>();
    let hostKey = '';

    const end = (problem: string) => {
      if (ended) return;
      ended = true;
      endProblem = problem;
      clearTimeout(timer);
      target.signal.removeEventListener('abort', onAbort);
      client.removeAllListeners();
      // Errors after the end (a late reset) must not surface as unhandled.
      client.on('error', () => {});
      client.destroy();
      for (const stop of running) stop(problem);
      running.clear();
      if (!opened) resolve({ problem });
    };
    const onAbort = () => end('stopped');
    const timer = setTimeout(() => end(`no answer within ${formatSeconds(target.timeoutMs)}`), target.timeoutMs);
    if (target.signal.aborted) return onAbort();
    target.signal.addEventListener('abort', onAbort, { once: true });

    const run: NodeSession['run'] = (command, options) =>
      new Promise((resolveRun) => {
        const maxBytes = options.maxBytes ?? maxExecOutput;
        const out = { stdout: [] as Buffer[], stderr: [] as Buffer[], sizes: { stdout: 0, stderr: 0 } };
        let truncated = false;
        let exitCode: number | null = null;
        let settled = false;
        let channel: ssh2.ClientChannel | undefined;
        const text = (stream: 'stdout' | 'stderr') => Buffer.concat(out[stream]).toString('utf8');
        const settle = (fields: { timedOut?: boolean; problem?: string } = {}) => {
          if (settled) return;
          settled = true;
          clearTimeout(runTimer);
          running.delete(stopRun);
          if (fields.timedOut === true || truncated || fields.problem !== undefined) channel?.close();
          resolveRun({
            stdout: text('stdout'),
            stderr: text('stderr'),
            exitCode: fields.timedOut === true || fields.problem !== undefined ? null : exitCode,
            timedOut: fields.timedOut === true,
            truncated,
            ...(fields.problem === undefined ? {} : { problem: fields.problem }),
          });
        };
        const stopRun = (problem: string) => settle({ problem });
        const runTimer = setTimeout(() => settle({ timedOut: true }), options.timeoutMs);
        if (ended) return settle({ problem: endProblem });
        running.add(stopRun);
        const keep = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
          const room = maxBytes - out.sizes[stream];
          if (chunk.length > room) truncated = true;
          if (room > 0) out[stream].push(chunk.subarray(0, room));
          out.sizes[stream] += Math.min(chunk.length, Math.max(room, 0));
          if (truncated && options.stopAtLimit === true) settle();
        };
        client.exec(command, (error, opened) => {
          if (error) return settle({ problem: 'ssh: the node refused to run the command' });
          channel = opened;
          if (settled) return void opened.close();
          opened.on('data', keep('stdout'));
          opened.stderr.on('data', keep('stderr'));
          opened.on('exit', (code: number | null) => {
            exitCode = code;
          });
          opened.on('close', () => settle());
        });
      });

    const session: NodeSession = {
      get hostKey() {
        return hostKey;
      },
      run,
      async exec(command, timeoutMs) {
        const result = await run(command, { timeoutMs });
        if (result.problem !== undefined) throw new Error(result.problem);
        return { stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode, timedOut: result.timedOut };
      },
      close: () => end('ssh: the session was closed'),
    };

    client
      .on('ready', () => {
        opened = true;
        clearTimeout(timer);
        resolve({ session });
      })
      .on('error', (error: Error & { level?: string; code?: string }) => end(keyMismatch ? 'host key mismatch' : connectProblem(error)))
      .on('close', () => end(keyMismatch ? 'host key mismatch' : 'ssh: the connection was closed'))
      .connect({
        host: target.address,
        port: target.port,
        username: target.user,
        privateKey: target.privateKey,
        readyTimeout: target.timeoutMs,
        keepaliveInterval: 0,
        hostVerifier: (key: Buffer) => {
          hostKey = hostKeyFingerprint(key);
          const ok = target.hostKeys.includes(hostKey);
          if (!ok) keyMismatch = true;
          return ok;
        },
      });
  });
}

function connectProblem(error: Error & { level?: string; code?: string }): string {
  if (error.level === 'client-authentication') return 'ssh: the fleet key was not accepted';
  if (error.level === 'client-timeout') return 'ssh: no handshake in time';
  if (typeof error.code === 'string' && /^[A-Z_]+$/.test(error.code)) return `ssh: ${error.code}`;
  return 'ssh: the connection failed';
}

export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}
