import { describe, expect, it } from 'vitest';

import { printable } from '../../src/errors/quote-text.js';
import { checkReason, maxReasonLength } from '../../src/promote/audit-text.js';
import { UserError } from '../../src/errors/user-error.js';

function refusal(reason: string) {
  try {
    checkReason(reason);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    return { code: error.code, exitCode: error.exitCode, message: error.message, hint: error.hint };
  }
  throw new Error(`${JSON.stringify(reason)} was accepted`);
}

/** Characters either side of every edge of the refused ranges. */
const refused = ['\u0000', '\u001f', '\u007f', '\u0085', '\u009f', '\u2028', '\u2029', '\u202a', '\u202e', '\u2066', '\u2069'];
const allowed = [' ', '~', '\u00a0x', 'ü', '\u2027', '\u202f', '\u2065', '\u206a', '😀'];

describe('checkReason', () => {
  it('takes one line of printable text, up to the limit, as given', () => {
    expect(checkReason(undefined)).toBeUndefined();
    for (const text of allowed) expect(checkReason(`ok ${text}`)).toBe(`ok ${text}`);
    expect(checkReason(' padded ')).toBe(' padded ');
    expect(maxReasonLength).toBe(500);
    expect(checkReason('x'.repeat(500))).toBe('x'.repeat(500));
  });

  it('refuses every control character, naming the first one and where it is', () => {
    for (const char of refused) {
      const code = char.codePointAt(0)!.toString(16).padStart(4, '0');
      expect(refusal(`ab${char}c${char}`)).toStrictEqual({
        code: 'BAD_REASON',
        exitCode: 2,
        message: `--reason holds a control character (U+${code} at position 3); a reason is one line of printable text`,
        hint: 'nothing was changed; write the reason on one line without escape sequences',
      });
    }
    expect(refusal('\n').message).toBe('--reason holds a control character (U+000a at position 1); a reason is one line of printable text');
  });

  it('refuses an empty reason and a too long one', () => {
    expect(refusal('')).toStrictEqual({ code: 'BAD_REASON', exitCode: 2, message: '--reason is empty', hint: 'say why in a few words' });
    expect(refusal('   ').message).toBe('--reason is empty');
    expect(refusal('x'.repeat(501))).toStrictEqual({
      code: 'BAD_REASON',
      exitCode: 2,
      message: '--reason is 501 characters long; at most 500',
      hint: 'say why in one line; link to a ticket for the details',
    });
  });
});

describe('printable', () => {
  it('shows every control character as a visible escape, all of them', () => {
    expect(printable('a\nb\nc\r\r\t\t')).toBe('a\\nb\\nc\\r\\r\\t\\t');
    expect(printable('\u0000\u001b[0m\u001f\u007f\u0085\u009f')).toBe('\\x00\\x1b[0m\\x1f\\x7f\\x85\\x9f');
    expect(printable('\u2028\u2029\u202a\u202e\u2066\u2069')).toBe('\\u2028\\u2029\\u202a\\u202e\\u2066\\u2069');
  });

  it('leaves printable text alone, beyond the Basic Multilingual Plane too', () => {
    const text = ' ~\u00a0ü\u2027\u202f\u2065\u206a😀 history line';
    expect(printable(text)).toBe(text);
    expect(printable('😀\u0001😀')).toBe('😀\\x01😀');
  });
});
