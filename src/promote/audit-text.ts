import { invalidInput } from '../errors/user-error.js';

/** Longest reason recorded; a reason is a line in a log, not a document. */
export const maxReasonLength = 500;

/** C0 and C1 control characters, DEL, and Unicode line/paragraph separators and bidi controls. */
// eslint-disable-next-line no-control-regex
const unprintable = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/**
 * A `--reason` is one line of printable text: it is refused at input when it holds a newline,
 * an escape sequence or another control character, so that the history can never show a
 * second, genuine-looking line or drive an admin's terminal.
 */
export function checkReason(reason: string | undefined): string | undefined {
  if (reason === undefined) return undefined;
  const bad = unprintable.exec(reason);
  if (bad !== null) {
    const code = bad[0].codePointAt(0)!.toString(16).padStart(4, '0');
    throw invalidInput(
      'BAD_REASON',
      `--reason holds a control character (U+${code} at position ${bad.index + 1}); a reason is one line of printable text`,
      'nothing was changed; write the reason on one line without escape sequences',
    );
  }
  if (reason.trim() === '') throw invalidInput('BAD_REASON', '--reason is empty', 'say why in a few words');
  if (reason.length > maxReasonLength)
    throw invalidInput(
      'BAD_REASON',
      `--reason is ${reason.length} characters long; at most ${maxReasonLength}`,
      'say why in one line; link to a ticket for the details',
    );
  return reason;
}

/**
 * Text from the tree (history, state: anyone who can write the tree can write them) made safe
 * for a terminal: every control character is shown as a visible escape (`\n`, `\x1b`, `\u2028`).
 */
export function printable(text: string): string {
  return text.replace(new RegExp(unprintable.source, 'gu'), (char) => {
    const code = char.codePointAt(0)!;
    if (char === '\n') return '\\n';
    if (char === '\r') return '\\r';
    if (char === '\t') return '\\t';
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
