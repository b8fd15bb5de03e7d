import { describe, expect, it } from 'vitest';

import { UserError } from '../../src/errors/user-error.js';
import { parseImageRef } from '../../src/store/image-ref.js';

const usage = 'write it as <name> or <name>@<version>, e.g. tiny@20261125T120455Z-3fa9c1d2 (`pxeforge images` lists them)';

/** What a verb shows when it refuses `reference`. */
function refusal(reference: string) {
  try {
    parseImageRef(reference);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    return { code: error.code, exitCode: error.exitCode, message: error.message, hint: error.hint };
  }
  throw new Error(`${reference} was accepted`);
}

/** How a message shows the control characters of what was typed. */
const shown = (text: string) => text.replace('\0', '\\x00').replace('\n', '\\n');

describe('parseImageRef', () => {
  it('splits at the first @; no version and `latest` both mean the latest', () => {
    expect(parseImageRef('tiny')).toStrictEqual({ name: 'tiny', version: undefined });
    expect(parseImageRef('tiny@latest')).toStrictEqual({ name: 'tiny', version: undefined });
    expect(parseImageRef('tiny@20261125T120455Z-3fa9c1d2')).toStrictEqual({ name: 'tiny', version: '20261125T120455Z-3fa9c1d2' });
    expect(parseImageRef('tiny@latest2')).toStrictEqual({ name: 'tiny', version: 'latest2' });
  });

  it('takes versions of one to 128 plain characters, starting with a letter or digit', () => {
    for (const version of ['a', 'Z', '7', 'v1.2_3+4-5', 'A.b', 'a_', 'a+', 'a-', `a${'b'.repeat(127)}`]) {
      expect(parseImageRef(`tiny@${version}`)).toStrictEqual({ name: 'tiny', version });
    }
  });

  it('refuses a version that is not one plain name, wherever the bad character is, saying what is allowed', () => {
    for (const version of ['', '.hidden', '_a', '+a', '-a', '..', '../x', 'a/b', 'a/', 'a@b', 'a b', 'a\0b', 'a\n', ' a']) {
      expect(refusal(`tiny@${version}`)).toStrictEqual({
        code: 'BAD_IMAGE_REFERENCE',
        exitCode: 2,
        message: `\`tiny@${shown(version)}\`: the version must be one plain name (letters, digits, \`.\`, \`_\`, \`+\`, \`-\`), not \`${shown(version)}\``,
        hint: usage,
      });
    }
  });

  it('refuses a name that is not an image name, also when the reference starts with @', () => {
    expect(refusal('..@images')).toStrictEqual({
      code: 'BAD_IMAGE_REFERENCE',
      exitCode: 2,
      message: '`..@images`: `..` is not an image name (lowercase letters, digits and dashes, starting with a letter or digit)',
      hint: usage,
    });
    expect(refusal('@v1').message).toBe(
      '`@v1`: `` is not an image name (lowercase letters, digits and dashes, starting with a letter or digit)',
    );
    expect(refusal('Tiny').message).toBe(
      '`Tiny`: `Tiny` is not an image name (lowercase letters, digits and dashes, starting with a letter or digit)',
    );
  });

  it('refuses versions past 128 characters, and shows at most 80 characters of what it was given', () => {
    const name80 = `A${'a'.repeat(79)}`;
    expect(refusal(name80).message).toBe(
      `\`${name80}\`: \`${name80}\` is not an image name (lowercase letters, digits and dashes, starting with a letter or digit)`,
    );
    const name81 = `${name80}b`;
    expect(refusal(name81).message).toBe(
      `\`${name80.slice(0, 79)}…\`: \`${name80.slice(0, 79)}…\` is not an image name (lowercase letters, digits and dashes, starting with a letter or digit)`,
    );
    const long = `a${'b'.repeat(128)}`;
    expect(refusal(`tiny@${long}`).message).toBe(
      `\`tiny@${long.slice(0, 74)}…\`: the version must be one plain name (letters, digits, \`.\`, \`_\`, \`+\`, \`-\`), not \`${long.slice(0, 79)}…\``,
    );
    const version = `.${'v'.repeat(90)}`;
    expect(refusal(`tiny@${version}`).message).toBe(
      `\`tiny@${version.slice(0, 74)}…\`: the version must be one plain name (letters, digits, \`.\`, \`_\`, \`+\`, \`-\`), not \`${version.slice(0, 79)}…\``,
    );
  });
});

describe('a refused reference is quoted safely', () => {
  it('escapes control characters, so a typed escape sequence never reaches the terminal', () => {
    let message = '';
    try {
      parseImageRef('tiny@a\u001b]0;x\u0007');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).not.toMatch(/[\u0000-\u001f]/);
    expect(message).toContain('\\x1b]0;x\\x07');
  });
});
