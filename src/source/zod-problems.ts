import type { z } from 'zod';

import { formatPath } from '../errors/format-path.js';
import type { Problem } from '../errors/problems.js';
import { quoted } from '../errors/quote-text.js';
import { closestName } from './suggest.js';
import type { YamlDocument } from './yaml-document.js';

/** Validates `document.data` against `schema`; every issue becomes a located problem. */
export function checkSchema<T extends z.ZodType>(
  schema: T,
  document: YamlDocument,
): { ok: true; value: z.output<T> } | { ok: false; problems: Problem[] } {
  const result = schema.safeParse(document.data, { reportInput: true });
  if (result.success) return { ok: true, value: result.data };
  // A value of the wrong type is reported as that alone, not also as too short or too long.
  const wrongType = new Set(
    result.error.issues.filter((issue) => issue.code === 'invalid_type').map((issue) => JSON.stringify(issue.path)),
  );
  const issues = result.error.issues.filter(
    (issue) => !((issue.code === 'too_small' || issue.code === 'too_big') && wrongType.has(JSON.stringify(issue.path))),
  );
  const problems = issues.flatMap((issue) => issueProblems(schema, document, issue));
  return { ok: false, problems: problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0)) };
}

function issueProblems(schema: z.ZodType, document: YamlDocument, issue: z.core.$ZodIssue): Problem[] {
  const at = (path: readonly PropertyKey[], where: 'key' | 'value' = 'value') => ({
    file: document.file,
    ...document.locate(path, where),
    path: formatPath(path),
  });
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(schema, issue.path);
    return issue.keys.map((key) => {
      const suggestion = closestName(key, known);
      return {
        ...at([...issue.path, key], 'key'),
        message: `unknown key ${quoted(key)}`,
        hint:
          suggestion !== undefined
            ? `did you mean \`${suggestion}\`?`
            : known.length > 0
              ? `allowed keys here: ${known.join(', ')}`
              : undefined,
      };
    });
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    const parent = issue.path.slice(0, -1);
    const field = String(issue.path.at(-1) ?? '');
    return [{ ...at(parent), path: formatPath(issue.path), message: `missing required field \`${field}\`` }];
  }
  if (issue.code === 'invalid_type') {
    return [{ ...at(issue.path), message: `expected ${article(issue.expected)}, got ${describe(issue.input)}` }];
  }
  if (issue.code === 'invalid_value') {
    const allowed = issue.values.map((value) => String(value));
    const suggestion = typeof issue.input === 'string' ? closestName(issue.input, allowed) : undefined;
    return [
      {
        ...at(issue.path),
        message: `${describe(issue.input)} is not one of ${allowed.map((v) => `\`${v}\``).join(', ')}`,
        hint: suggestion === undefined ? undefined : `did you mean \`${suggestion}\`?`,
      },
    ];
  }
  if (issue.code === 'invalid_format' && issue.format === 'url') {
    return [{ ...at(issue.path), message: `${describe(issue.input)} is not an http:// or https:// URL` }];
  }
  if (issue.code === 'too_small' || issue.code === 'too_big') {
    const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
    const word = issue.code === 'too_small' ? 'at least' : 'at most';
    const what = issue.origin === 'string' ? ' characters long' : issue.origin === 'array' ? ' entries' : '';
    return [{ ...at(issue.path), message: `must be ${word} ${String(bound)}${what}, got ${describe(issue.input)}` }];
  }
  if (issue.code === 'invalid_union') {
    // Report the branch that got furthest: the one with the fewest issues.
    const best = [...issue.errors].sort((a, b) => a.length - b.length)[0];
    if (best !== undefined && best.length > 0) {
      return best.flatMap((inner) => issueProblems(schema, document, { ...inner, path: [...issue.path, ...inner.path] }));
    }
  }
  return [{ ...at(issue.path), message: issue.message }];
}

function article(type: string): string {
  if (type === 'array') return 'a list';
  if (type === 'object') return 'a mapping';
  if (type === 'int') return 'an integer';
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function describe(value: unknown): string {
  if (value === null) return 'null (an empty value)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return quoted(value);
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  return typeof value;
}

/** The keys an object schema accepts at `path` (for "did you mean"). */
function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let current: unknown = schema;
  for (const segment of [...path, undefined]) {
    current = unwrap(current);
    if (segment === undefined) break;
    const def = defOf(current);
    if (def?.type === 'object') current = (def.shape as Record<string, unknown>)[String(segment)];
    else if (def?.type === 'array') current = def.element;
    else if (def?.type === 'record') current = def.valueType;
    else return [];
  }
  const def = defOf(current);
  return def?.type === 'object' ? Object.keys(def.shape as object) : [];
}

type Def = { type: string; [key: string]: unknown };

function defOf(schema: unknown): Def | undefined {
  return (schema as { _zod?: { def?: Def } } | undefined)?._zod?.def;
}

function unwrap(schema: unknown): unknown {
  let current = schema;
  for (;;) {
    const def = defOf(current);
    if (def === undefined) return current;
    if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'prefault') {
      current = def.innerType;
    } else if (def.type === 'pipe') {
      current = def.in;
    } else {
      return current;
    }
  }
}
