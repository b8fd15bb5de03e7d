import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

import type { Problem } from '../errors/problems.js';
import { printable, quoted, unprintable } from '../errors/quote-text.js';
import { loadRepoYaml } from '../recipe/repo-file.js';
import { insideRepo, recipeRepo } from '../recipe/repo.js';
import { overlayMetaSchema } from '../recipe/schema.js';
import type { SettingLocation } from '../site/site-config.js';
import { isNormalizedAbsolute } from '../site/node-config.js';
import { readRegularFile } from '../source/read-regular-file.js';
import { checkSchema } from '../source/zod-problems.js';
import { nodeTemplateEngine, templateError, type ParsedTemplate } from './templates.js';

/** The directory of node file sets in the recipe repository. */
export const nodeFilesDirName = 'nodefiles';
export const templateSuffix = '.liquid';

export interface SetEntry {
  /** Path on the node. */
  path: string;
  kind: 'file' | 'directory';
  /** `nodefiles/<set>/<file>` as problems and previews name it. */
  source: string;
  /** A plain file's bytes. */
  content?: Buffer;
  /** A template (its name ends in `.liquid`), parsed once. */
  template?: ParsedTemplate;
  /** Executable bit from the tree (git keeps it). */
  executable: boolean;
}

export interface MetaEntry {
  path: string;
  owner: string | number | undefined;
  group: string | number | undefined;
  mode: number | undefined;
  recursive: boolean;
  at: { file: string; line?: number; column?: number; path: string };
}

export interface NodeFileSet {
  name: string;
  entries: SetEntry[];
  meta: MetaEntry[];
}

/**
 * Reads `nodefiles/<set>/` and its optional `nodefiles/<set>.yaml`. Only regular files and
 * directories are taken: a symlink, device, socket or pipe is refused, never followed; a
 * file name must be printable. Templates are parsed here, once.
 */
export async function loadNodeFileSet(
  repoRoot: string,
  name: string,
  at: SettingLocation,
  engine = nodeTemplateEngine(),
): Promise<{ set?: NodeFileSet; problems: Problem[] }> {
  const problems: Problem[] = [];
  const repo = recipeRepo(repoRoot);
  const dir = path.join(repoRoot, nodeFilesDirName, name);
  const display = `${nodeFilesDirName}/${name}`;
  const info = await lstat(dir).catch(() => undefined);
  if (info === undefined || !info.isDirectory()) {
    problems.push({
      ...at,
      message: info === undefined ? `no node file set ${quoted(name)} (${display}/ does not exist)` : `${display} is not a directory`,
    });
    return { problems };
  }
  if ((await insideRepo(repo, dir)) !== 'inside') {
    problems.push({ ...at, message: `${display} leads outside the repository` });
    return { problems };
  }
  const entries: SetEntry[] = [];
  const walk = async (relative: string): Promise<void> => {
    const names = (await readdir(path.join(dir, relative))).sort();
    for (const entryName of names) {
      const rel = relative === '' ? entryName : `${relative}/${entryName}`;
      const source = `${display}/${rel}`;
      if (unprintable.test(entryName)) {
        problems.push({ file: printable(source), path: '', message: 'file names of node files must be printable (no control characters)' });
        continue;
      }
      const file = path.join(dir, rel);
      const stat = await lstat(file);
      if (stat.isDirectory()) {
        entries.push({ path: `/${rel}`, kind: 'directory', source, executable: false });
        await walk(rel);
      } else if (stat.isFile()) {
        if (entryName === '.keep') continue;
        const read = await readRegularFile(file);
        if (!('content' in read)) {
          problems.push({
            file: source,
            path: '',
            message: `is ${read.refused === 'symlink' ? 'a symlink' : 'no longer a regular file'}; node file sets hold only files and directories`,
          });
          continue;
        }
        const { content } = read;
        const executable = (stat.mode & 0o111) !== 0;
        if (entryName.endsWith(templateSuffix) && entryName !== templateSuffix) {
          const target = `/${rel.slice(0, -templateSuffix.length)}`;
          try {
            entries.push({ path: target, kind: 'file', source, template: engine.parse(content.toString('utf8')), executable });
          } catch (error) {
            const located = templateError(error);
            problems.push({ file: source, line: located.line, column: located.column, path: '', message: printable(located.message) });
          }
        } else {
          entries.push({ path: `/${rel}`, kind: 'file', source, content, executable });
        }
      } else {
        const kind = stat.isSymbolicLink() ? 'a symlink' : 'not a regular file or directory (a device, socket or pipe)';
        problems.push({
          file: source,
          path: '',
          message: `is ${kind}; node file sets hold only files and directories`,
          hint: stat.isSymbolicLink() ? 'copy the file it points to into the set' : undefined,
        });
      }
    }
  };
  await walk('');
  const meta = await loadSetMeta(repo, name, problems);
  for (const entry of meta) {
    if (!entries.some((item) => item.path === entry.path || (entry.recursive && item.path.startsWith(`${entry.path}/`)))) {
      problems.push({ ...entry.at, message: `${quoted(entry.path)} is not in node file set ${quoted(name)}` });
    }
  }
  return { set: { name, entries, meta }, problems };
}

async function loadSetMeta(repo: ReturnType<typeof recipeRepo>, name: string, problems: Problem[]): Promise<MetaEntry[]> {
  const file = path.join(repo.root, nodeFilesDirName, `${name}.yaml`);
  if ((await lstat(file).catch(() => undefined)) === undefined) return [];
  const loaded = await loadRepoYaml(repo, file);
  if (!loaded.ok) {
    problems.push(...loaded.problems);
    return [];
  }
  const checked = checkSchema(overlayMetaSchema, loaded.document);
  if (!checked.ok) {
    problems.push(...checked.problems);
    return [];
  }
  const out: MetaEntry[] = [];
  for (const [index, entry] of (checked.value.files ?? []).entries()) {
    const fieldPath = ['files', index, 'path'];
    const at = { file: loaded.document.file, ...loaded.document.locate(fieldPath), path: `files[${index}].path` };
    if (!isNormalizedAbsolute(entry.path)) {
      problems.push({ ...at, message: `${quoted(entry.path)} is not a normalized absolute path (no \`..\`, \`.\` or \`//\`)` });
      continue;
    }
    out.push({
      path: entry.path,
      owner: entry.owner,
      group: entry.group,
      mode: entry.mode === undefined ? undefined : parseInt(entry.mode, 8),
      recursive: entry.recursive ?? false,
      at,
    });
  }
  return out;
}
