import { isUtf8 } from 'node:buffer';
import { readFile, stat } from 'node:fs/promises';

import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';

import type { Problem } from '../errors/problems.js';
import { shortText } from '../errors/quote-text.js';

/**
 * A YAML document read from the recipe repository, with source positions.
 *
 * Recipes are parsed with the `yaml` library rather than js-yaml because every problem
 * must carry a line and column, and only `yaml` keeps the position of every node.
 */
export interface YamlDocument {
  /** File name as shown in messages (relative to the repository root). */
  file: string;
  data: unknown;
  /** Position of the node at `path`, or of its deepest existing ancestor. */
  locate(path: readonly PropertyKey[], at?: 'key' | 'value'): { line: number; column: number } | undefined;
}

/** Recipes are small; anything larger is a mistake (a wrong file, a generated blob). */
export const maxDocumentBytes = 1024 * 1024;

export type LoadResult = { ok: true; document: YamlDocument } | { ok: false; problems: Problem[] };

export async function loadYamlDocument(absolutePath: string, file: string): Promise<LoadResult> {
  const info = await stat(absolutePath).catch(() => undefined);
  if (info === undefined || !info.isFile()) {
    return fail({ file, path: '', message: 'file not found' });
  }
  if (info.size > maxDocumentBytes) {
    const mb = (info.size / 1024 / 1024).toFixed(1);
    return fail({
      file,
      path: '',
      message: `file is ${mb} MiB; the limit is 1 MiB`,
      hint: 'recipes and site configs are short YAML files; check that this is the file you meant',
    });
  }
  const bytes = await readFile(absolutePath);
  const encodingProblem = findNonUtf8(bytes, file);
  if (encodingProblem !== undefined) return fail(encodingProblem);
  return parseYamlText(bytes.toString('utf8').replace(/^\uFEFF/, ''), file);
}

export function parseYamlText(text: string, file: string): LoadResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((error) => ({
        file,
        line: error.linePos?.[0].line,
        column: error.linePos?.[0].col,
        path: '',
        message: `invalid YAML: ${yamlMessage(error.message)}`,
      })),
    };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    return fail({ file, path: '', message: `invalid YAML: ${shortText((error as Error).message, 100)}` });
  }
  const position = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  return {
    ok: true,
    document: {
      file,
      data,
      locate(path, at = 'value') {
        const found = findNode(doc.contents, path);
        const node = at === 'key' && found.key !== undefined ? found.key : found.node;
        const start = node?.range?.[0];
        return start === undefined ? undefined : position(start);
      },
    },
  };
}

/** The library's message without its own location suffix and source excerpt, cut short (it may quote the file). */
function yamlMessage(message: string): string {
  return shortText((message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '').trim(), 100);
}

/** Walks `path` from the root; stops at the deepest node that exists. */
function findNode(root: unknown, path: readonly PropertyKey[]): { node?: Node; key?: Node } {
  let node = root as Node | null;
  let key: Node | undefined;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
      if (pair === undefined) break;
      key = pair.key as Node;
      node = pair.value as Node | null;
      if (node === null) return { node: key, key };
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as Node | undefined;
      if (item === undefined) break;
      node = item;
      key = undefined;
    } else {
      break;
    }
  }
  return { node: node ?? undefined, key };
}

function findNonUtf8(bytes: Buffer, file: string): Problem | undefined {
  if (isUtf8(bytes)) return undefined;
  let lineStart = 0;
  for (let line = 1; lineStart <= bytes.length; line += 1) {
    let lineEnd = bytes.indexOf(0x0a, lineStart);
    if (lineEnd === -1) lineEnd = bytes.length;
    const lineBytes = bytes.subarray(lineStart, lineEnd);
    if (!isUtf8(lineBytes)) {
      const column = lineBytes.toString('utf8').indexOf('\uFFFD') + 1;
      return {
        file,
        line,
        column: Math.max(column, 1),
        path: '',
        message: 'file is not valid UTF-8',
        hint: 'save the file as UTF-8 (for example with `iconv -f latin1 -t utf-8`)',
      };
    }
    lineStart = lineEnd + 1;
  }
  return { file, path: '', message: 'file is not valid UTF-8' };
}

function fail(problem: Problem): LoadResult {
  return { ok: false, problems: [problem] };
}
