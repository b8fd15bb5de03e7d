import { randomBytes } from 'node:crypto';
import { mkdir, open, realpath, rename, rm } from 'node:fs/promises';
import path from 'node:path';

import { invalidInput } from '../errors/user-error.js';

export const reportFileName = 'index.html';

/**
 * Refuses an output directory inside the TFTP root, by real path (symlinks resolved, also
 * for the part of `outDir` that does not exist yet): the report holds the history and the
 * fleet, which stay off the provisioning network.
 */
export async function checkReportDir(outDir: string, tftpRoot: string): Promise<void> {
  const out = await realpathOfNearest(path.resolve(outDir));
  const root = await realpathOfNearest(path.resolve(tftpRoot));
  const relative = path.relative(root, out);
  if (relative === '' || (!relative.startsWith(`..${path.sep}`) && relative !== '..' && !path.isAbsolute(relative))) {
    throw invalidInput(
      'REPORT_IN_TREE',
      `--out ${outDir} is inside the PXE tree ${tftpRoot}, which the TFTP and HTTP servers hand out to any node`,
      'nothing was written; write the report outside the tree, e.g. --out var/report',
    );
  }
}

/** The real path of `file`: its nearest existing ancestor resolved, the rest appended. */
async function realpathOfNearest(file: string): Promise<string> {
  const rest: string[] = [];
  let at = file;
  for (;;) {
    try {
      return path.join(await realpath(at), ...rest.reverse());
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      const parent = path.dirname(at);
      if (parent === at) return file;
      rest.push(path.basename(at));
      at = parent;
    }
  }
}

/**
 * Writes `<outDir>/index.html` atomically: a reader (a browser reloading a wall display)
 * sees the old page or the new one, never half of one. Returns the file's path.
 */
export async function writeReportFile(outDir: string, html: string): Promise<string> {
  await mkdir(outDir, { recursive: true });
  const target = path.join(outDir, reportFileName);
  const temp = path.join(outDir, `.${reportFileName}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(html, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  return target;
}
