import { sha256 } from '../integrity/digest.js';
import { type CpioInput, readCpio, writeCpio } from './cpio.js';
import { type NodeFile, type NodeFiles, nodeStagingDir } from './node-file.js';

/** A node's packed archive: its bytes and their sha256 (its name in the tree). */
export interface NodeArchive {
  bytes: Buffer;
  sha256: string;
  size: number;
}

const rootDir = `${nodeStagingDir}/root`;
const explicitDirsFile = `${nodeStagingDir}/explicit-dirs`;

/** Whether a node path is normalized: `/`, then components that are not empty, `.` or `..`, no NUL. */
export function isNodePath(file: string): boolean {
  if (!file.startsWith('/') || file === '/' || file.includes('\0')) return false;
  return file
    .slice(1)
    .split('/')
    .every((part) => part !== '' && part !== '.' && part !== '..');
}

const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * One node's files as the newc cpio the boot loader loads beside the image's initrd, in the
 * layout of node-file.ts: everything under `.pxeforge-node/`, each file at `root/<path>` with
 * its owner and mode, parent directories the node files do not name as root-owned 0755 (made
 * on the node only when missing), and `explicit-dirs`. The same files give the same bytes.
 */
export function packNodeArchive(node: NodeFiles): NodeArchive {
  const entries = new Map<string, CpioInput>();
  const directory = (name: string, mode: number, uid = 0, gid = 0): CpioInput => ({
    name,
    kind: 'directory',
    mode,
    uid,
    gid,
    content: Buffer.alloc(0),
  });
  entries.set(nodeStagingDir, directory(nodeStagingDir, 0o700));
  entries.set(rootDir, directory(rootDir, 0o700));
  const explicit: string[] = [];
  const given = new Set<string>();
  for (const file of node.files) {
    if (!isNodePath(file.path)) throw new Error(`node ${node.host}: ${file.path} is not a normalized absolute path`);
    const name = `${rootDir}${file.path}`;
    if (given.has(name)) throw new Error(`node ${node.host}: ${file.path} is given twice`);
    given.add(name);
    const parts = file.path.split('/');
    for (let depth = 2; depth < parts.length; depth += 1) {
      const parent = `${rootDir}${parts.slice(0, depth).join('/')}`;
      if (!entries.has(parent) && !given.has(parent)) entries.set(parent, directory(parent, 0o755));
    }
    if (file.kind === 'directory') {
      entries.set(name, directory(name, file.mode, file.uid, file.gid));
      if (file.explicit === true) explicit.push(file.path);
    } else {
      entries.set(name, { name, kind: 'file', mode: file.mode, uid: file.uid, gid: file.gid, content: file.content ?? Buffer.alloc(0) });
    }
  }
  const list = explicit.sort(byBytes).join('\n');
  entries.set(explicitDirsFile, {
    name: explicitDirsFile,
    kind: 'file',
    mode: 0o600,
    uid: 0,
    gid: 0,
    content: Buffer.from(list === '' ? '' : `${list}\n`),
  });
  // A directory given after one of its files replaced the 0755 placeholder above: the map keeps one entry per name.
  const bytes = writeCpio([...entries.values()].sort((a, b) => byBytes(a.name, b.name)));
  return { bytes, sha256: sha256(bytes), size: bytes.length };
}

/** A node file as read back from an archive (no source or secret flag: the archive does not carry them). */
export type ArchivedNodeFile = Omit<NodeFile, 'source' | 'secret'>;

/**
 * The node files of an archive, by node path: the inverse of packNodeArchive (parent
 * directories it added included). Throws for anything that is not a node archive.
 */
export function readNodeArchive(bytes: Buffer): Map<string, ArchivedNodeFile> {
  const files = new Map<string, ArchivedNodeFile>();
  let explicit: string[] = [];
  for (const entry of readCpio(bytes)) {
    if (entry.name === nodeStagingDir || entry.name === rootDir) continue;
    if (entry.name === explicitDirsFile) {
      explicit = entry.content.toString('utf8').split('\n').filter(Boolean);
      continue;
    }
    if (!entry.name.startsWith(`${rootDir}/`)) throw new Error(`not a node archive: ${JSON.stringify(entry.name)} is outside ${rootDir}/`);
    const file = entry.name.slice(rootDir.length);
    if (!isNodePath(file)) throw new Error(`not a node archive: ${JSON.stringify(entry.name)}`);
    if (entry.kind !== 'file' && entry.kind !== 'directory') throw new Error(`not a node archive: ${file} is a ${entry.kind}`);
    files.set(file, {
      path: file,
      kind: entry.kind,
      ...(entry.kind === 'file' ? { content: entry.content } : {}),
      uid: entry.uid,
      gid: entry.gid,
      mode: entry.mode,
    });
  }
  for (const dir of explicit) {
    const found = files.get(dir);
    if (found?.kind === 'directory') found.explicit = true;
  }
  return files;
}

/** Node paths whose entry differs between two archives' files (added, removed, or other content, owner or mode), sorted. */
export function changedNodePaths(before: ReadonlyMap<string, ArchivedNodeFile>, after: ReadonlyMap<string, ArchivedNodeFile>): string[] {
  const changed: string[] = [];
  for (const file of new Set([...before.keys(), ...after.keys()])) {
    const a = before.get(file);
    const b = after.get(file);
    if (
      a === undefined ||
      b === undefined ||
      a.kind !== b.kind ||
      a.uid !== b.uid ||
      a.gid !== b.gid ||
      a.mode !== b.mode ||
      (a.explicit ?? false) !== (b.explicit ?? false) ||
      !(a.content ?? Buffer.alloc(0)).equals(b.content ?? Buffer.alloc(0))
    )
      changed.push(file);
  }
  return changed.sort(byBytes);
}
