import ssh2 from 'ssh2';

import { type BootRecord, bootRecordPath, parseBootRecord } from '../nodes/boot-record.js';
import { hostKeyFingerprint } from '../nodes/host-keys.js';

const { Client } = ssh2;

/** The most a node may answer: a boot record is a few hundred bytes. */
export const maxRecordBytes = 64 * 1024;

export interface NodeTarget {
  address: string;
  port: number;
  user: string;
  /** The fleet's private key (OpenSSH or PEM). */
  privateKey: Buffer;
  /** Fingerprints (`SHA256:…`) the node may present; anything else is refused. */
  hostKeys: readonly string[];
  timeoutMs: number;
  signal: AbortSignal;
}

/**
 * What reading one node gave: its record; or a node that answered but whose record is missing
 * or not valid (`record` problem); or a node that could not be read at all (`unreachable`).
 * Reasons are pxeforge's own words; nothing the node sent is in them.
 */
export type NodeReading =
  | { kind: 'record'; record: BootRecord }
  | { kind: 'bad record'; problem: string }
  | { kind: 'unreachable'; problem: string };

/**
 * Reads a node's boot record over SSH (`cat /run/pxeforge/boot.json`). The host key must be
 * one of `hostKeys`: an unknown key ends the handshake before authentication. Everything
 * (connect, handshake, command) ends by `timeoutMs` or when `signal` aborts; the connection
 * is always torn down.
 */
export function readNode(target: NodeTarget): Promise<NodeReading> {
  return new Promise((resolve) => {
    const client = new Client();
    let settled = false;
    let keyMismatch = false;
    const finish = (reading: NodeReading) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      target.signal.removeEventListener('abort', onAbort);
      client.removeAllListeners();
      // Errors after the end (a late reset) must not surface as unhandled.
      client.on('error', () => {});
      client.destroy();
      resolve(reading);
    };
    const onAbort = () => finish({ kind: 'unreachable', problem: 'stopped' });
    const timer = setTimeout(
      () => finish({ kind: 'unreachable', problem: `no answer within ${formatSeconds(target.timeoutMs)}` }),
      target.timeoutMs,
    );
    if (target.signal.aborted) return onAbort();
    target.signal.addEventListener('abort', onAbort, { once: true });
    client
      .on('ready', () => {
        client.exec(`cat ${bootRecordPath}`, (error, channel) => {
          if (error) return finish({ kind: 'unreachable', problem: 'ssh: the node refused to run the command' });
          const chunks: Buffer[] = [];
          let size = 0;
          let exitCode: number | null = null;
          channel.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > maxRecordBytes)
              return finish({ kind: 'bad record', problem: `the boot record is larger than ${maxRecordBytes} bytes` });
            chunks.push(chunk);
          });
          channel.stderr.on('data', () => {});
          channel.on('exit', (code: number | null) => {
            exitCode = code;
          });
          channel.on('close', () => {
            if (exitCode !== 0)
              return finish({
                kind: 'bad record',
                problem: `no boot record (\`cat ${bootRecordPath}\` exited with ${exitCode ?? 'a signal'})`,
              });
            const parsed = parseBootRecord(Buffer.concat(chunks).toString('utf8'));
            finish(
              'record' in parsed
                ? { kind: 'record', record: parsed.record }
                : { kind: 'bad record', problem: recordProblem(parsed.problem) },
            );
          });
        });
      })
      .on('error', (error: Error & { level?: string; code?: string }) =>
        finish({ kind: 'unreachable', problem: keyMismatch ? 'host key mismatch' : connectProblem(error) }),
      )
      .on('close', () => finish({ kind: 'unreachable', problem: keyMismatch ? 'host key mismatch' : 'ssh: the connection was closed' }))
      .connect({
        host: target.address,
        port: target.port,
        username: target.user,
        privateKey: target.privateKey,
        readyTimeout: target.timeoutMs,
        keepaliveInterval: 0,
        hostVerifier: (key: Buffer) => {
          const ok = target.hostKeys.includes(hostKeyFingerprint(key));
          if (!ok) keyMismatch = true;
          return ok;
        },
      });
  });
}

function recordProblem(problem: string): string {
  return problem === 'not valid JSON' ? 'the boot record is not valid JSON' : `the boot record is not valid (${problem})`;
}

function connectProblem(error: Error & { level?: string; code?: string }): string {
  if (error.level === 'client-authentication') return 'ssh: the fleet key was not accepted';
  if (error.level === 'client-timeout') return 'ssh: no handshake in time';
  if (typeof error.code === 'string' && /^[A-Z_]+$/.test(error.code)) return `ssh: ${error.code}`;
  return 'ssh: the connection failed';
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}
