// The score table of a Stryker JSON report (see scripts/mutation).
import { readFileSync } from 'node:fs';

import { equivalentMutants } from './stryker.config.mjs';

const bar = 90;
const report = JSON.parse(readFileSync(process.argv[2] ?? 'var/mutation/mutation.json', 'utf8'));
const detected = new Set(['Killed', 'Timeout']);
const valid = new Set([...detected, 'Survived', 'NoCoverage']);

/** The mutated code, its source line and the top-level function around it. */
function where(source, location) {
  const lines = source.split('\n');
  const offset = ({ line, column }) => lines.slice(0, line - 1).reduce((sum, text) => sum + text.length + 1, 0) + column - 1;
  const original = source.slice(offset(location.start), offset(location.end));
  const line = lines[location.start.line - 1];
  const enclosing =
    lines
      .slice(0, location.start.line)
      .reverse()
      .map((text) => /^(?:export )?(?:async )?function (\w+)/.exec(text)?.[1])
      .find(Boolean) ?? '';
  return { original, line, enclosing };
}

const used = new Set();
const rows = [];
const known = [];
const unknown = [];
let failed = false;
for (const [file, { source, mutants }] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
  const count = (status) => mutants.filter((m) => m.status === status).length;
  const validCount = mutants.filter((m) => valid.has(m.status)).length;
  const caught = mutants.filter((m) => detected.has(m.status)).length;
  let equivalent = 0;
  for (const m of mutants.filter((m) => m.status === 'Survived' || m.status === 'NoCoverage')) {
    const { original, line, enclosing } = where(source, m.location);
    const entry = equivalentMutants.find(
      (e) =>
        e.file === file &&
        e.mutator === m.mutatorName &&
        e.original === original &&
        e.replacement === m.replacement &&
        (e.function === undefined || e.function === enclosing) &&
        (e.line === undefined || line.includes(e.line)),
    );
    const shown = `${file}:${m.location.start.line}:${m.location.start.column} ${m.status} ${m.mutatorName}: ${original.replace(/\s+/g, ' ').slice(0, 50)} -> ${(m.replacement ?? '').replace(/\s+/g, ' ').slice(0, 50)}`;
    if (entry === undefined) {
      unknown.push(shown);
    } else {
      equivalent += 1;
      used.add(entry);
      known.push(`${shown}\n      ${entry.why}`);
    }
  }
  const score = validCount === 0 ? 100 : (100 * caught) / validCount;
  const adjusted = validCount - equivalent === 0 ? 100 : (100 * caught) / (validCount - equivalent);
  if (adjusted < bar) failed = true;
  rows.push([
    file,
    score.toFixed(1),
    adjusted.toFixed(1),
    String(validCount),
    String(count('Killed')),
    String(count('Timeout')),
    String(count('Survived') + count('NoCoverage')),
    String(equivalent),
    String(count('CompileError')),
  ]);
}

const head = ['file', 'score %', 'w/o equiv. %', 'valid', 'killed', 'timeout', 'survived', 'equivalent', 'type err'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const format = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ');
console.log('');
console.log(format(head));
console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
for (const row of rows) console.log(format(row));
console.log(
  '\nscore: killed or timed out / valid mutants (survived and not covered included); w/o equiv.: the known equivalent mutants set aside',
);
if (known.length > 0) console.log(`\nequivalent mutants (scripts/stryker.config.mjs):\n${known.map((k) => `  ${k}`).join('\n')}`);
if (unknown.length > 0) {
  failed = true;
  console.log(
    `\nsurvivors no test notices (add a test, or list a mutant that makes no difference in scripts/stryker.config.mjs):\n${unknown.map((u) => `  ${u}`).join('\n')}`,
  );
}
const mutated = new Set(Object.keys(report.files));
const stale = equivalentMutants.filter((e) => mutated.has(e.file) && !used.has(e));
if (stale.length > 0)
  console.log(
    `\nlisted as equivalent but not surviving (killed now, or the code changed):\n${stale.map((e) => `  ${e.file} ${e.function ?? ''} ${e.mutator}: ${e.original} -> ${e.replacement}`).join('\n')}`,
  );
if (failed) {
  console.log(`\nbelow ${bar} % or with survivors no test notices`);
  process.exit(1);
}
