import { describe, expect, it } from 'vitest';

import { expandHostlist, maxHostlistSize } from '../../src/site/hostlist.js';

describe('expandHostlist, rule by rule', () => {
  it('expands single numbers, one-element ranges and text after a range', () => {
    expect(expandHostlist('cn[7]')).toEqual(['cn7']);
    expect(expandHostlist('cn[007]')).toEqual(['cn007']);
    expect(expandHostlist('cn[5-5]')).toEqual(['cn5']);
    expect(expandHostlist('r[1-2]-ib0')).toEqual(['r1-ib0', 'r2-ib0']);
    expect(expandHostlist('[1-2]')).toEqual(['1', '2']);
    expect(expandHostlist('a.b-c')).toEqual(['a.b-c']);
    expect(expandHostlist('')).toEqual(['']);
  });

  it('pads to the lower bound, not the upper one', () => {
    expect(expandHostlist('cn[8-10]')).toEqual(['cn8', 'cn9', 'cn10']);
    expect(expandHostlist('cn[08-10]')).toEqual(['cn08', 'cn09', 'cn10']);
    expect(expandHostlist('cn[098-101]')).toEqual(['cn098', 'cn099', 'cn100', 'cn101']);
  });

  it('keeps the order written, outer ranges first', () => {
    expect(expandHostlist('n[3,1-2]x[2,1]')).toEqual(['n3x2', 'n3x1', 'n1x2', 'n1x1', 'n2x2', 'n2x1']);
  });

  it('refuses a range with anything before or after its numbers', () => {
    for (const [pattern, body] of [
      ['cn[x1-2]', 'x1-2'],
      ['cn[1-2x]', '1-2x'],
      ['cn[1-2-3]', '1-2-3'],
      ['cn[-2]', '-2'],
      ['cn[1-]', '1-'],
      ['cn[1,]', '1,'],
      ['cn[]', ''],
      ['cn[ 1]', ' 1'],
    ]) {
      expect(() => expandHostlist(pattern!)).toThrow(
        new Error(`\`[${body}]\` in \`${pattern}\` is not a list of numbers or ranges like 001-512`),
      );
    }
  });

  it('refuses host-name text with anything but letters, digits, dots and dashes, before or after', () => {
    expect(() => expandHostlist(';cn[1-2]')).toThrow(new Error('`;cn` is not part of a host name (letters, digits, `.`, `-`)'));
    expect(() => expandHostlist('cn;[1-2]')).toThrow(new Error('`cn;` is not part of a host name (letters, digits, `.`, `-`)'));
    expect(() => expandHostlist('cn[1-2]a/b')).toThrow(new Error('`a/b` is not part of a host name (letters, digits, `.`, `-`)'));
    expect(() => expandHostlist('cn_1')).toThrow(new Error('`cn_1` is not part of a host name (letters, digits, `.`, `-`)'));
    expect(() => expandHostlist('a]b[1]')).toThrow(new Error('`a]b` is not part of a host name (letters, digits, `.`, `-`)'));
  });

  it('refuses backwards ranges and unclosed brackets with the pattern named', () => {
    expect(() => expandHostlist('cn[1-3,9-8]')).toThrow(new Error('range `9-8` in `cn[1-3,9-8]` runs backwards'));
    expect(() => expandHostlist('r[1-2]n[1')).toThrow(new Error('unclosed `[` in `r[1-2]n[1`'));
  });

  it('expands exactly the cap, and refuses one name more, in one range or across ranges', () => {
    expect(maxHostlistSize).toBe(100_000);
    expect(expandHostlist('cn[1-100000]')).toHaveLength(100_000);
    expect(expandHostlist('a[1-100]b[1-1000]')).toHaveLength(100_000);
    const tooMany = (pattern: string) => new Error(`\`${pattern}\` expands to more than 100000 names`);
    expect(() => expandHostlist('cn[0-100000]')).toThrow(tooMany('cn[0-100000]'));
    expect(() => expandHostlist('a[1-100]b[0-1000]')).toThrow(tooMany('a[1-100]b[0-1000]'));
    expect(() => expandHostlist('a[1-50000,1-50001]')).toThrow(tooMany('a[1-50000,1-50001]'));
  });
});
