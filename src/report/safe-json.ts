/**
 * JSON that can stand inside an HTML `<script>` element: `<`, `>` and `&` as \u escapes (no
 * `</script>` or `<!--` can end or change the element), and U+2028/U+2029, which older
 * JavaScript parsers take for line ends. The result parses back to the same value.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (char) => `\\u${char.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}
