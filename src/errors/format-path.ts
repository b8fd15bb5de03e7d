import { shortText } from './quote-text.js';

/** Renders a document path as admins write it: `tests.checks[1].run`. Keys are cut short (see quote-text.ts). */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? shortText(String(part)) : `.${shortText(String(part))}`;
  }
  return out;
}
