import { shortText } from '../errors/quote-text.js';
import { closestName } from '../source/suggest.js';

/**
 * The reboot command template of `rollout.reboot` in pxeforge.yaml: an argv (no shell) whose
 * elements may hold placeholders. `{host}`, `{address}`, `{mac}` and `{bmc}` make one command
 * per node; `{hosts}` makes one command per wave (the wave's host names joined with commas).
 */

/** Placeholders that make one command per node. */
export const perNodePlaceholders = ['host', 'address', 'mac', 'bmc'] as const;
export type PerNodePlaceholder = (typeof perNodePlaceholders)[number];
export type RebootPlaceholder = PerNodePlaceholder | 'hosts';

/** `{name}`: a name in braces. Other braces (`{}`, a JSON body) are text. */
const placeholder = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** An element of a template: literal text and placeholders, in order. */
export type TemplatePart = { text: string } | { placeholder: string };

export function templateParts(element: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const match of element.matchAll(placeholder)) {
    if (match.index > last) parts.push({ text: element.slice(last, match.index) });
    parts.push({ placeholder: match[1]! });
    last = match.index + match[0].length;
  }
  if (last < element.length) parts.push({ text: element.slice(last) });
  return parts;
}

const isKnown = (name: string): name is RebootPlaceholder => name === 'hosts' || (perNodePlaceholders as readonly string[]).includes(name);

/**
 * What is wrong with a template, each problem at the index of its element (or undefined for
 * the template as a whole): an unknown placeholder, no placeholder at all, or per-node
 * placeholders mixed with `{hosts}`.
 */
export function rebootTemplateProblems(template: readonly string[]): { index: number | undefined; message: string; hint?: string }[] {
  const problems: { index: number | undefined; message: string; hint?: string }[] = [];
  const used: { name: RebootPlaceholder; index: number }[] = [];
  const known = `${[...perNodePlaceholders, 'hosts'].map((name) => `{${name}}`).join(', ')}`;
  for (const [index, element] of template.entries()) {
    for (const part of templateParts(element)) {
      if (!('placeholder' in part)) continue;
      if (isKnown(part.placeholder)) used.push({ name: part.placeholder, index });
      else {
        const likely = closestName(part.placeholder, [...perNodePlaceholders, 'hosts']);
        problems.push({
          index,
          message: `unknown placeholder \`{${shortText(part.placeholder)}}\``,
          hint: likely === undefined ? `placeholders: ${known}` : `did you mean \`{${likely}}\`?`,
        });
      }
    }
  }
  const wave = used.find((use) => use.name === 'hosts');
  const node = used.find((use) => use.name !== 'hosts');
  if (wave !== undefined && node !== undefined)
    problems.push({
      index: (wave.index > node.index ? wave : node).index,
      message: `\`{hosts}\` (one command per wave) is mixed with \`{${node.name}}\` (one command per node)`,
      hint: 'use either `{hosts}` or the per-node placeholders',
    });
  if (used.length === 0 && problems.length === 0)
    problems.push({
      index: undefined,
      message: 'the reboot command names no node',
      hint: `add a placeholder: ${known} (e.g. \`ssh root@{host} systemctl reboot\`)`,
    });
  return problems;
}

/** Whether a (checked) template runs once per wave (`{hosts}`) rather than once per node. */
export function isWaveTemplate(template: readonly string[]): boolean {
  return template.some((element) => templateParts(element).some((part) => 'placeholder' in part && part.placeholder === 'hosts'));
}
