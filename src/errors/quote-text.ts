/** How many characters of input a message quotes at most. */
export const maxQuotedChars = 40;

/**
 * Input as a message quotes it: control characters escaped, cut to `max` characters with
 * an ellipsis. Problems name what is wrong; they never echo a file (a key from a file that
 * is not a recipe could be a line of /etc/shadow), nor drive a terminal.
 */
export function shortText(text: string, max = maxQuotedChars): string {
  const printable = text.replace(/[\x00-\x1f\x7f-\x9f]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return printable.length > max ? `${printable.slice(0, max - 1)}…` : printable;
}

/** `shortText` in backticks, as messages quote names and values. */
export function quoted(text: string, max = maxQuotedChars): string {
  return `\`${shortText(text, max)}\``;
}
