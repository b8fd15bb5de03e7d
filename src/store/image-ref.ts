import { quoted } from '../errors/quote-text.js';
import { invalidInput } from '../errors/user-error.js';
import { imageName } from '../recipe/patterns.js';

/** What a verb was asked for: an image, and a version of it or its latest. */
export interface ImageRef {
  name: string;
  /** undefined: the latest version in the store. */
  version: string | undefined;
}

/** Version directory names as builds make them (`20261125T120455Z-3fa9c1d2`), and hand-made ones alike: one plain path component. */
const versionPattern = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

/**
 * The one parser of `<name>[@<version>]` for every verb (build --locked, show, diff, test,
 * promote, the Kubernetes executor). The name follows the image-name rule and the version
 * is a single plain path component, so a reference can never name a path outside the store
 * or the tree (`..@images`, `../images/tiny@v`, `tiny@v@x` are refused with exit code 2).
 */
export function parseImageRef(reference: string): ImageRef {
  const at = reference.indexOf('@');
  const name = at < 0 ? reference : reference.slice(0, at);
  const version = at < 0 ? undefined : reference.slice(at + 1);
  // Quoted short and with control characters escaped: the reference is whatever was typed.
  const shown = quoted(reference, 80);
  const usage = 'write it as <name> or <name>@<version>, e.g. tiny@20261125T120455Z-3fa9c1d2 (`pxeforge images` lists them)';
  if (!imageName.safeParse(name).success) {
    throw invalidInput(
      'BAD_IMAGE_REFERENCE',
      `${shown}: ${quoted(name, 80)} is not an image name (lowercase letters, digits and dashes, starting with a letter or digit)`,
      usage,
    );
  }
  if (version !== undefined && version !== 'latest' && !versionPattern.test(version)) {
    throw invalidInput(
      'BAD_IMAGE_REFERENCE',
      `${shown}: the version must be one plain name (letters, digits, \`.\`, \`_\`, \`+\`, \`-\`), not ${quoted(version, 80)}`,
      usage,
    );
  }
  return { name, version: version === 'latest' ? undefined : version };
}
