import { setTimeout as sleep } from 'node:timers/promises';

import ssh2, { type Client as SshClient } from 'ssh2';

import { hostKeyFingerprint } from '../nodes/host-keys.js';

export { hostKeyFingerprint, publicKeyFingerprint } from '../nodes/host-keys.js';

const { Client } = ssh2;

export interface SshSession {
  /** SHA256 fingerprint of the host key the node presented. */
  hostKey: string;
  exec(command: string, timeoutMs: number): Promise<{ stdout: string; stderr: string; exitCode: number | null; timedOut: boolean }>;
  close(): void;
}

/**
 * Connects as root with the per-run key, retrying until `deadline` (the node is booting).
 * Returns undefined if SSH never answered in time.
 */
export async function connectSsh(options: {
  port: number;
  privateKey: string;
  deadline: number;
  signal: AbortSignal;
}): Promise<SshSession | undefined> {
  while (Date.now() < options.deadline) {
    options.signal.throwIfAborted();
    const session = await tryConnect(options.port, options.privateKey).catch(() => undefined);
    if (session !== undefined) return session;
    await sleep(1000, undefined, { signal: options.signal });
  }
  return undefined;
}

function tryConnect(port: number, privateKey: string): Promise<SshSession> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let hostKey = '';
    client
      .on('ready', () => resolve(session(client, hostKey)))
      .on('error', reject)
      .connect({
        host: '127.0.0.1',
        port,
        username: 'root',
        privateKey,
        readyTimeout: 10_000,
        hostVerifier: (key: Buffer) => {
          hostKey = hostKeyFingerprint(key);
          return true;
        },
      });
  });
}

function session(client: SshClient, hostKey: string): SshSession {
  return {
    hostKey,
    exec(command, timeoutMs) {
      return new Promise((resolve, reject) => {
        client.exec(command, (error, channel) => {
          if (error) return reject(error);
          let stdout = '';
          let stderr = '';
          const timer = setTimeout(() => {
            channel.close();
            resolve({ stdout, stderr, exitCode: null, timedOut: true });
          }, timeoutMs);
          channel.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
          channel.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
          let exitCode: number | null = null;
          channel.on('exit', (code: number | null) => {
            exitCode = code;
          });
          channel.on('close', () => {
            clearTimeout(timer);
            resolve({ stdout, stderr, exitCode, timedOut: false });
          });
        });
      });
    },
    close: () => client.end(),
  };
}
