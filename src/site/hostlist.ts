import { quoted } from '../errors/quote-text.js';

/**
 * Host lists as HPC schedulers write them: `cn[001-512]`, `gpu[1-4,8]`, `r[1-2]n[01-16]`.
 * Zero padding follows the lower bound's width. Expansion is capped: a typo such as
 * `cn[1-99999999]` must fail, not exhaust memory.
 */
export const maxHostlistSize = 100_000;

export function expandHostlist(pattern: string): string[] {
  let names = [''];
  let rest = pattern;
  while (rest !== '') {
    const open = rest.indexOf('[');
    if (open === -1) {
      names = names.map((name) => name + literal(rest));
      break;
    }
    const close = rest.indexOf(']', open);
    if (close === -1) throw new Error(`unclosed \`[\` in ${quoted(pattern)}`);
    const prefix = literal(rest.slice(0, open));
    const values = expandRanges(rest.slice(open + 1, close), pattern);
    if (names.length * values.length > maxHostlistSize) {
      throw new Error(`${quoted(pattern)} expands to more than ${maxHostlistSize} names`);
    }
    names = names.flatMap((name) => values.map((value) => name + prefix + value));
    rest = rest.slice(close + 1);
  }
  return names;
}

function literal(text: string): string {
  if (!/^[A-Za-z0-9.-]*$/.test(text)) throw new Error(`${quoted(text)} is not part of a host name (letters, digits, \`.\`, \`-\`)`);
  return text;
}

function expandRanges(body: string, pattern: string): string[] {
  const values: string[] = [];
  for (const part of body.split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (match === null) throw new Error(`\`[${body}]\` in ${quoted(pattern)} is not a list of numbers or ranges like 001-512`);
    const [, low = '', high = low] = match;
    const from = Number(low);
    const to = Number(high);
    if (to < from) throw new Error(`range ${quoted(part)} in ${quoted(pattern)} runs backwards`);
    if (to - from >= maxHostlistSize) throw new Error(`${quoted(pattern)} expands to more than ${maxHostlistSize} names`);
    for (let n = from; n <= to; n += 1) values.push(String(n).padStart(low.length, '0'));
  }
  return values;
}
