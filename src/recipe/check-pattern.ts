import { RE2JS } from 're2js';

/**
 * Recipe check patterns (`tests.checks[].match`) run on RE2 (re2js), a linear-time engine:
 * a pattern comes from a recipe and runs on the event loop against what a node printed,
 * so a backtracking engine could stall a boot test (and its timeouts and Ctrl-C) for
 * minutes on `^(a+)+$`. RE2 has no backreferences or lookaround; `validate` refuses what it
 * cannot compile. `^` and `$` match at line ends, as the checks always did. Every
 * recipe-supplied pattern is compiled here and nowhere else.
 */
export interface CheckPattern {
  test(text: string): boolean;
}

export function compileCheckPattern(source: string): CheckPattern {
  const compiled = RE2JS.compile(source, RE2JS.MULTILINE);
  return { test: (text) => compiled.matcher(text).find() };
}

/** Why RE2 cannot compile `source`, or undefined when it can. */
export function checkPatternError(source: string): string | undefined {
  try {
    RE2JS.compile(source, RE2JS.MULTILINE);
    return undefined;
  } catch (error) {
    return (error as Error).message.replace(/^error parsing regexp: /, '');
  }
}
