import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

import ssh2 from 'ssh2';

import { readRegularFile } from '../source/read-regular-file.js';
import { hostKeyFiles, hostKeysDir } from './node-file.js';

export interface HostKey {
  /** OpenSSH private key. Secret. */
  private: Buffer;
  /** `ssh-ed25519 AAAA... <host>` */
  public: string;
}

/** Writes `content` at `file` atomically: a temporary file beside it, then a rename. */
export async function writeAtomic(file: string, content: string | Buffer, mode: number): Promise<void> {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, content, { mode, flag: 'wx' });
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** A node's managed host key, if it has one (regular files only, never followed through a symlink). */
export async function readHostKey(secretsDir: string, host: string): Promise<HostKey | undefined> {
  const files = hostKeyFiles(secretsDir, host);
  const [privateKey, publicKey] = await Promise.all([readRegularFile(files.private), readRegularFile(files.public)]);
  if (!('content' in privateKey) || !('content' in publicKey)) return undefined;
  return { private: privateKey.content, public: publicKey.content.toString('utf8').trim() };
}

/** Makes (or replaces) a node's managed ed25519 host key in the secrets directory. */
export async function generateHostKey(secretsDir: string, host: string, parentsMade = false): Promise<HostKey> {
  const files = hostKeyFiles(secretsDir, host);
  if (!parentsMade) await makeHostKeysDir(secretsDir);
  await mkdir(path.dirname(files.private), { recursive: true, mode: 0o700 });
  const pair = newEd25519KeyPair(host);
  const publicKey = pair.public.trim();
  await writeAtomic(files.private, pair.private, 0o600);
  await writeAtomic(files.public, `${publicKey}\n`, 0o644);
  return { private: Buffer.from(pair.private), public: publicKey };
}

/**
 * A new ed25519 key pair in OpenSSH format. ssh2 (1.17) drops a leading zero byte of the
 * public key when it encodes one, about one key in 256, which leaves a private key neither
 * OpenSSH nor ssh2 can load: such a pair is made again.
 */
export function newEd25519KeyPair(comment: string): { private: string; public: string } {
  for (;;) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment });
    if (
      !(ssh2.utils.parseKey(pair.private) instanceof Error) &&
      publicKeyFingerprint(pair.public) !== undefined &&
      keyLength(pair.public) === 51
    )
      return pair;
  }
}

/** Bytes of a public key line's blob (51 for ed25519: type name and 32-byte key, each length-prefixed). */
function keyLength(line: string): number {
  return Buffer.from(line.trim().split(/\s+/)[1] ?? '', 'base64').length;
}

/** The secrets directory and its `host-keys/` (0700), when missing. */
export async function makeHostKeysDir(secretsDir: string): Promise<void> {
  await mkdir(secretsDir, { recursive: true, mode: 0o700 });
  await mkdir(path.join(secretsDir, hostKeysDir), { recursive: true, mode: 0o700 });
}

/** One known-hosts line: `host[,address] ssh-ed25519 AAAA...` (the key's comment dropped). */
export function knownHostsLine(host: string, ip: string | undefined, publicKey: string): string {
  const [type = '', key = ''] = publicKey.split(/\s+/);
  const names = ip === undefined ? host : `${host},${ip.split('/')[0]}`;
  return `${names} ${type} ${key}`;
}

/** OpenSSH's SHA256 fingerprint of a host key (its wire-format blob): `SHA256:<base64, unpadded>`. */
export function hostKeyFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The fingerprint of an OpenSSH public key line (`ssh-ed25519 AAAA… comment`); undefined when it is not one. */
export function publicKeyFingerprint(line: string): string | undefined {
  const [type, blob] = line.trim().split(/\s+/);
  if (type === undefined || blob === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) return undefined;
  const bytes = Buffer.from(blob, 'base64');
  // The blob starts with its own type name (length-prefixed), which must be the line's.
  const nameLength = bytes.length >= 4 ? bytes.readUInt32BE(0) : -1;
  if (nameLength < 0 || bytes.subarray(4, 4 + nameLength).toString('latin1') !== type) return undefined;
  return hostKeyFingerprint(bytes);
}
