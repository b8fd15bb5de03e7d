/** C0 and C1 control characters, DEL, and Unicode line/paragraph separators and bidi controls. */
export const unprintable = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** How many characters of input a message quotes at most. */
export const maxQuotedChars = 40;

/**
 * Input as a message quotes it: control characters escaped, cut to `max` characters with
 * an ellipsis. Problems name what is wrong; they never echo a file (a key from a file that
 * is not a recipe could be a line of /etc/shadow), nor drive a terminal.
 */
export function shortText(text: string, max = maxQuotedChars): string {
  const shown = printable(text);
  return shown.length > max ? `${shown.slice(0, max - 1)}…` : shown;
}

/** `shortText` in backticks, as messages quote names and values. */
export function quoted(text: string, max = maxQuotedChars): string {
  return `\`${shortText(text, max)}\``;
}

/**
 * Text pxeforge did not write (input, and the tree's history and state, which anyone who can
 * write the tree can write) made safe for a terminal: every control character is shown as a visible escape (`\n`, `\x1b`, `\u2028`).
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
