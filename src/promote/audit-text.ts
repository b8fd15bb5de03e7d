import { unprintable } from '../errors/quote-text.js';
import { invalidInput } from '../errors/user-error.js';

/** Longest reason recorded; a reason is a line in a log, not a document. */
export const maxReasonLength = 500;

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
