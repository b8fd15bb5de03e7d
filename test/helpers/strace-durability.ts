import path from 'node:path';

/**
 * Reads an `strace -f -yy` log of a promotion and checks its fsync discipline, without
 * relying on the page cache: what a rename publishes must be on disk before the rename,
 * and the rename itself must reach the disk (an fsync of its directory) before anything
 * that depends on it.
 *
 * The log must come from `strace -f -qq -yy -o <file> -e trace=<durabilityTrace>`: every
 * fd argument then carries its path (`19</tree/pxeforge/generations>`), and calls that
 * another thread interrupts are split into `<unfinished ...>` and `<... resumed>` lines.
 */
export const durabilityTrace = [
  'openat',
  'write',
  'pwrite64',
  'writev',
  'pwritev',
  'copy_file_range',
  'sendfile',
  'ftruncate',
  'mkdir',
  'mkdirat',
  'symlink',
  'symlinkat',
  'link',
  'linkat',
  'rename',
  'renameat',
  'renameat2',
  'unlink',
  'unlinkat',
  'rmdir',
  'fsync',
  'fdatasync',
  'syncfs',
  // `?`: not an error where a call does not exist (aarch64 has no mkdir, rename, symlink, ...).
]
  .map((call) => `?${call}`)
  .join(',');

/** What one file system call did. */
export type FsChange =
  | { kind: 'create'; path: string; type: 'file' | 'dir' | 'symlink' | 'link' }
  | { kind: 'write'; path: string }
  | { kind: 'remove'; path: string }
  | { kind: 'rename'; from: string; to: string }
  | { kind: 'fsync'; path: string }
  | { kind: 'syncfs'; path: string };

/** A call that succeeded, placed in the log: `start` is the line where it was entered, `end` where it returned. */
export type FsOp = FsChange & { pid: number; start: number; end: number };

/** The successful file system calls of a log, in the order they returned. */
export function parseStrace(log: string): FsOp[] {
  const ops: FsOp[] = [];
  const pending = new Map<number, { call: string; args: string; start: number }>();
  const lines = log.split('\n');
  for (const [index, line] of lines.entries()) {
    const head = /^(\d+)\s+(.*)$/.exec(line);
    if (head === null) continue;
    const pid = Number(head[1]);
    let body = head[2]!;
    let start = index;
    const resumed = /^<\.\.\. (\w+) resumed>(.*)$/.exec(body);
    if (resumed !== null) {
      const begun = pending.get(pid);
      pending.delete(pid);
      if (begun === undefined || begun.call !== resumed[1]) continue;
      body = `${begun.call}(${begun.args}${resumed[2]}`;
      start = begun.start;
    }
    const unfinished = /^(\w+)\((.*) <unfinished \.\.\.>$/.exec(body);
    if (unfinished !== null) {
      pending.set(pid, { call: unfinished[1]!, args: unfinished[2]!, start: index });
      continue;
    }
    const call = /^(\w+)\((.*)$/.exec(body);
    // strace pads before ` = ` (`<... rename resumed>)      = 0`); the last `) = ` ends the arguments.
    const split = [...body.matchAll(/\)\s+= /g)].at(-1);
    if (call === null || split === undefined) continue;
    const returned = /^(-?\d+)(?:<(\/.*)>)?/.exec(body.slice(split.index + split[0].length));
    if (returned === null || Number(returned[1]) < 0) continue;
    const op = toOp(call[1]!, splitArgs(body.slice(call[1]!.length + 1, split.index)), returned[2]);
    if (op !== undefined) ops.push({ ...op, pid, start, end: index });
  }
  return ops;
}

/** `returned`: the path of the fd a call returned (openat). */
function toOp(call: string, args: string[], returned: string | undefined): FsChange | undefined {
  const at = (dirfd: number, name: number) => resolveAt(args[dirfd], args[name]);
  switch (call) {
    case 'openat': {
      const flags = args[2] ?? '';
      if (!/O_WRONLY|O_RDWR/.test(flags)) return undefined;
      const file = returned === undefined ? at(0, 1) : cleanPath(returned);
      return flags.includes('O_CREAT') ? { kind: 'create', path: file, type: 'file' } : { kind: 'write', path: file };
    }
    case 'write':
    case 'pwrite64':
    case 'writev':
    case 'pwritev':
    case 'ftruncate':
      return pathOp('write', fdPath(args[0]));
    case 'sendfile':
      return pathOp('write', fdPath(args[0]));
    case 'copy_file_range':
      return pathOp('write', fdPath(args[2]));
    case 'fsync':
    case 'fdatasync':
      return pathOp('fsync', fdPath(args[0]));
    case 'syncfs':
      return pathOp('syncfs', fdPath(args[0]));
    case 'mkdir':
      return { kind: 'create', path: stringArg(args[0]), type: 'dir' };
    case 'mkdirat':
      return { kind: 'create', path: at(0, 1), type: 'dir' };
    case 'symlink':
      return { kind: 'create', path: stringArg(args[1]), type: 'symlink' };
    case 'symlinkat':
      return { kind: 'create', path: at(1, 2), type: 'symlink' };
    case 'link':
      return { kind: 'create', path: stringArg(args[1]), type: 'link' };
    case 'linkat':
      return { kind: 'create', path: at(2, 3), type: 'link' };
    case 'rename':
      return { kind: 'rename', from: stringArg(args[0]), to: stringArg(args[1]) };
    case 'renameat':
    case 'renameat2':
      return { kind: 'rename', from: at(0, 1), to: at(2, 3) };
    case 'unlink':
    case 'rmdir':
      return { kind: 'remove', path: stringArg(args[0]) };
    case 'unlinkat':
      return { kind: 'remove', path: at(0, 1) };
    default:
      return undefined;
  }
}

function pathOp(kind: 'write' | 'fsync' | 'syncfs', file: string | undefined): FsChange | undefined {
  return file === undefined ? undefined : ({ kind, path: file } as FsChange);
}

/** Arguments at the top level: commas inside strings, `<path>`, `[...]` and `{...}` do not split. */
function splitArgs(text: string): string[] {
  const args: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i]!;
    if (quoted) {
      if (c === '\\') current += c + (text[++i] ?? '');
      else {
        if (c === '"') quoted = false;
        current += c;
      }
      continue;
    }
    if (c === '"') quoted = true;
    else if ('<[{('.includes(c)) depth += 1;
    else if ('>]})'.includes(c)) depth -= 1;
    else if (c === ',' && depth === 0) {
      args.push(current.trim());
      current = '';
      continue;
    }
    current += c;
  }
  if (current.trim() !== '') args.push(current.trim());
  return args;
}

function stringArg(arg: string | undefined): string {
  const quoted = /^"((?:[^"\\]|\\.)*)"/.exec(arg ?? '');
  if (quoted === null) return '';
  return quoted[1]!.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_, code: string) => {
    if (code.startsWith('x')) return String.fromCharCode(parseInt(code.slice(1), 16));
    if (/^[0-7]+$/.test(code)) return String.fromCharCode(parseInt(code, 8));
    return ({ n: '\n', t: '\t', r: '\r', v: '\v', f: '\f' } as Record<string, string>)[code] ?? code;
  });
}

/** `19</a/b>`, `AT_FDCWD</a>` → `/a/b`; pipes, sockets and devices → undefined. */
function fdPath(arg: string | undefined): string | undefined {
  const found = /^[\w-]+<(\/.*)>$/.exec(arg ?? '');
  if (found === null) return undefined;
  return cleanPath(found[1]!);
}

/** Without what `-yy` appends to device paths, and without ` (deleted)`. */
function cleanPath(file: string): string {
  return file.replace(/<(char|block) [^>]*>$/, '').replace(/ \(deleted\)$/, '');
}

function resolveAt(dirfd: string | undefined, name: string | undefined): string {
  const file = stringArg(name);
  if (file.startsWith('/')) return file;
  const dir = fdPath(dirfd);
  return dir === undefined ? file : path.join(dir, file);
}

/** The tree a promotion writes, as `treePaths` names it. */
export interface DurabilityTree {
  root: string;
  current: string;
  history: string;
  lock: string;
  /** Mount points: a syncfs covers the paths under the same (longest matching) one. */
  mountPoints?: string[];
}

export interface DurabilityReport {
  /** Renames that publish something in the tree (the lock's excepted), root-relative. */
  published: { from: string; to: string }[];
  problems: string[];
}

/**
 * The rules, for every rename into the tree except the lock's:
 * - before it, what it publishes is on disk: syncfs of its file system, or fsync of every
 *   file written and of every directory an entry was added to (a symlink has no fd: fsync
 *   its directory), the renamed directory itself included;
 * - after it, an fsync of the directory holding the new name (or syncfs), and every directory
 *   on the way there that this run created has its own parent fsynced, all before the switch
 *   of `current` that follows (after which nodes read it);
 * and every append to the history is followed by an fsync of it.
 */
export function checkDurability(ops: readonly FsOp[], tree: DurabilityTree): DurabilityReport {
  const log = syncLog(ops, tree);
  const inside = (file: string, dir: string) => file === dir || file.startsWith(`${dir}/`);
  const isLock = (file: string) => file === tree.lock || file.startsWith(`${tree.lock}.`);
  const published = ops.filter(
    (op): op is Extract<FsOp, { kind: 'rename' }> =>
      op.kind === 'rename' && inside(op.to, tree.root) && op.to !== tree.root && !isLock(op.to) && !isLock(op.from),
  );
  const switches = published.filter((r) => r.to === tree.current);
  const problems = new Set<string>();
  for (const rename of published) {
    const label = `rename ${log.show(rename.from)} -> ${log.show(rename.to)}`;
    // What nodes read through `current` must be on disk before `current` names it.
    const deadline = rename.to === tree.current ? Infinity : (switches.find((s) => s.start > rename.end)?.start ?? Infinity);
    for (const problem of [...log.unsyncedBefore(rename), ...log.unsyncedAfter(rename, deadline)]) problems.add(`${label}: ${problem}`);
  }
  for (const op of ops) {
    if (op.kind === 'write' && op.path === tree.history && !log.synced(op.end, Infinity, op.path, (f) => f === tree.history)) {
      problems.add(`${log.show(tree.history)} appended to but not fsynced after`);
    }
  }
  return { published: published.map((r) => ({ from: log.show(r.from), to: log.show(r.to) })), problems: [...problems] };
}

/** Questions about one log: was this change synced between these two points? */
function syncLog(ops: readonly FsOp[], tree: DurabilityTree) {
  const syncs = ops.filter((op): op is Extract<FsOp, { kind: 'fsync' | 'syncfs' }> => op.kind === 'fsync' || op.kind === 'syncfs');
  const mounts = [...(tree.mountPoints ?? ['/'])].sort((a, b) => b.length - a.length);
  const mountOf = (file: string) => mounts.find((m) => m === '/' || file === m || file.startsWith(`${m}/`)) ?? '/';
  const removedBetween = (file: string, after: number, before: number) =>
    ops.some((op) => op.kind === 'remove' && op.start > after && op.end < before && (op.path === file || file.startsWith(`${op.path}/`)));
  const show = (file: string) => (file === tree.root ? '.' : file.startsWith(`${tree.root}/`) ? file.slice(tree.root.length + 1) : file);

  /** A syncfs of `file`'s file system, or an fsync that `fsyncOf` accepts, entered after `after` and returned before `before`. */
  const synced = (after: number, before: number, file: string, fsyncOf: (fsynced: string) => boolean) =>
    syncs.some((s) => s.start > after && s.end < before && (s.kind === 'syncfs' ? mountOf(s.path) === mountOf(file) : fsyncOf(s.path)));

  /** Every file written or name made under what is renamed (itself included) is on disk when the rename is entered. */
  const unsyncedBefore = (rename: Extract<FsOp, { kind: 'rename' }>): string[] => {
    const problems: string[] = [];
    for (const op of ops) {
      if (op.end >= rename.start || (op.kind !== 'create' && op.kind !== 'write')) continue;
      if (!(op.path === rename.from || op.path.startsWith(`${rename.from}/`)) || removedBetween(op.path, op.end, rename.start)) continue;
      const own = op.path === rename.from;
      const since = (fsyncOf: (fsynced: string) => boolean) => synced(op.end, rename.start, op.path, fsyncOf);
      const data = op.kind === 'write' || op.type === 'file' ? since((f) => f === op.path) : true;
      // A name in a directory is on disk with the directory's fsync (a symlink has no fd of its own); the renamed one itself with its own.
      const name = op.kind === 'write' ? true : since((f) => f === path.dirname(op.path) || (own && f === op.path));
      if (data && name) continue;
      const what =
        op.kind === 'write' ? 'written' : op.type === 'file' ? 'created' : `${op.type === 'dir' ? 'made' : 'created'} (${op.type})`;
      problems.push(`${show(op.path)} ${what} but not synced before the rename`);
    }
    return problems;
  };

  /** The new name, and each directory on its way that this log made, are on disk before `deadline`. */
  const unsyncedAfter = (rename: Extract<FsOp, { kind: 'rename' }>, deadline: number): string[] => {
    const problems: string[] = [];
    const until = deadline === Infinity ? '' : ' and before the switch of current';
    if (!synced(rename.end, deadline, rename.to, (f) => f === path.dirname(rename.to))) {
      problems.push(`no fsync of ${show(path.dirname(rename.to))} after the rename${until}`);
    }
    for (let dir = path.dirname(rename.to); dir.startsWith(`${tree.root}/`); dir = path.dirname(dir)) {
      const made = ops.find((op) => op.kind === 'create' && op.type === 'dir' && op.path === dir && op.end < rename.end);
      if (made !== undefined && !synced(made.end, deadline, dir, (f) => f === path.dirname(dir))) {
        problems.push(`${show(dir)} was made by this run and ${show(path.dirname(dir))} is not fsynced after that${until}`);
      }
    }
    return problems;
  };

  return { show, synced, unsyncedBefore, unsyncedAfter };
}
