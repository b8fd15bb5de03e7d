/**
 * The "newc" cpio format (SVR4, no CRC), the one the Linux kernel unpacks as an initrd
 * segment: a writer for node archives and a reader for `nodes diff` and the tests.
 *
 * Written here rather than taken from npm: the one cpio package there (cpio-stream) writes
 * only the old "odc" format, which the kernel does not accept, and has not been maintained
 * for years. The format is small: a 110-byte ASCII header per entry, the name (NUL-terminated)
 * and the data, each padded to 4 bytes, and a `TRAILER!!!` entry at the end.
 */

const magic = '070701';
const magicCrc = '070702';
const headerSize = 110;
const trailerName = 'TRAILER!!!';

const typeMask = 0o170000;
const typeFile = 0o100000;
const typeDirectory = 0o040000;
const typeSymlink = 0o120000;

export interface CpioEntry {
  /** Relative path inside the archive, no leading `/` or `./`. */
  name: string;
  kind: 'file' | 'directory' | 'symlink' | 'other';
  /** Permission bits (within 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** A file's bytes, or a symlink's target (empty for a directory). */
  content: Buffer;
}

/** What the writer takes: files and directories only. */
export type CpioInput = Omit<CpioEntry, 'kind'> & { kind: 'file' | 'directory' };

const pad4 = (n: number) => (4 - (n % 4)) % 4;

function hex8(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new Error(`cpio: ${value} does not fit a newc header field`);
  return value.toString(16).toUpperCase().padStart(8, '0');
}

function header(fields: { ino: number; mode: number; uid: number; gid: number; nlink: number; size: number; nameSize: number }): string {
  return [
    magic,
    hex8(fields.ino),
    hex8(fields.mode),
    hex8(fields.uid),
    hex8(fields.gid),
    hex8(fields.nlink),
    hex8(0), // mtime: 0, so the same files give the same bytes
    hex8(fields.size),
    hex8(0), // devmajor
    hex8(0), // devminor
    hex8(0), // rdevmajor
    hex8(0), // rdevminor
    hex8(fields.nameSize),
    hex8(0), // check (newc: unused)
  ].join('');
}

/**
 * A newc archive of files and directories, in the order given (callers sort: parents
 * first). Deterministic: mtime 0, inode numbers 1, 2, 3… in order, nlink 2 for a directory
 * and 1 for a file, no device numbers.
 */
export function writeCpio(entries: readonly CpioInput[]): Buffer {
  const parts: Buffer[] = [];
  const push = (ino: number, mode: number, uid: number, gid: number, nlink: number, name: string, data: Buffer) => {
    const nameBytes = Buffer.from(`${name}\0`, 'utf8');
    const head = Buffer.from(header({ ino, mode, uid, gid, nlink, size: data.length, nameSize: nameBytes.length }), 'ascii');
    parts.push(head, nameBytes, Buffer.alloc(pad4(headerSize + nameBytes.length)));
    if (data.length > 0) parts.push(data, Buffer.alloc(pad4(data.length)));
  };
  for (const [index, entry] of entries.entries()) {
    if (entry.name === '' || entry.name.startsWith('/') || entry.name.includes('\0'))
      throw new Error(`cpio: bad entry name ${JSON.stringify(entry.name)}`);
    if ((entry.mode & ~0o7777) !== 0) throw new Error(`cpio: ${entry.name}: mode ${entry.mode.toString(8)} has more than permission bits`);
    const directory = entry.kind === 'directory';
    push(
      index + 1,
      (directory ? typeDirectory : typeFile) | entry.mode,
      entry.uid,
      entry.gid,
      directory ? 2 : 1,
      entry.name,
      directory ? Buffer.alloc(0) : entry.content,
    );
  }
  push(0, 0, 0, 0, 1, trailerName, Buffer.alloc(0));
  return Buffer.concat(parts);
}

/**
 * Every entry of a newc archive (with or without CRC), up to its trailer. Throws on anything
 * that is not one: the reader never trusts a size beyond the buffer. Names are returned as
 * written (callers check them before using one as a path).
 */
export function readCpio(bytes: Buffer): CpioEntry[] {
  const entries: CpioEntry[] = [];
  let offset = 0;
  const field = (at: number, index: number) => {
    const text = bytes.toString('ascii', at + 6 + index * 8, at + 6 + (index + 1) * 8);
    if (!/^[0-9A-Fa-f]{8}$/.test(text)) throw new Error(`cpio: bad header field at byte ${at}`);
    return Number.parseInt(text, 16);
  };
  for (;;) {
    if (offset + headerSize > bytes.length) throw new Error('cpio: archive ends before its trailer');
    const kind = bytes.toString('ascii', offset, offset + 6);
    if (kind !== magic && kind !== magicCrc) throw new Error(`cpio: not a newc header at byte ${offset}`);
    const mode = field(offset, 1);
    const uid = field(offset, 2);
    const gid = field(offset, 3);
    const size = field(offset, 6);
    const nameSize = field(offset, 11);
    const nameAt = offset + headerSize;
    if (nameSize < 1 || nameAt + nameSize > bytes.length) throw new Error(`cpio: bad name size at byte ${offset}`);
    const name = bytes.toString('utf8', nameAt, nameAt + nameSize - 1);
    const dataAt = nameAt + nameSize + pad4(headerSize + nameSize);
    if (dataAt + size > bytes.length) throw new Error(`cpio: ${name}: data runs past the end of the archive`);
    if (name === trailerName) return entries;
    const type = mode & typeMask;
    entries.push({
      name: name.replace(/^\.\//, ''),
      kind: type === typeFile ? 'file' : type === typeDirectory ? 'directory' : type === typeSymlink ? 'symlink' : 'other',
      mode: mode & 0o7777,
      uid,
      gid,
      content: Buffer.from(bytes.subarray(dataAt, dataAt + size)),
    });
    offset = dataAt + size + pad4(size);
  }
}
