import { describe, expect, it } from 'vitest';

import { expandHostlist } from '../../src/site/hostlist.js';

describe('expandHostlist', () => {
  it('expands zero-padded ranges and lists', () => {
    expect(expandHostlist('cn[001-003]')).toEqual(['cn001', 'cn002', 'cn003']);
    expect(expandHostlist('gpu[1-2,8]')).toEqual(['gpu1', 'gpu2', 'gpu8']);
    expect(expandHostlist('r[1-2]n[01-02]')).toEqual(['r1n01', 'r1n02', 'r2n01', 'r2n02']);
    expect(expandHostlist('login1')).toEqual(['login1']);
    expect(expandHostlist('cn[001-512]')).toHaveLength(512);
  });

  it('rejects what is not a host list', () => {
    expect(() => expandHostlist('cn[001-')).toThrowErrorMatchingInlineSnapshot(`[Error: unclosed \`[\` in \`cn[001-\`]`);
    expect(() => expandHostlist('cn[9-1]')).toThrowErrorMatchingInlineSnapshot(`[Error: range \`9-1\` in \`cn[9-1]\` runs backwards]`);
    expect(() => expandHostlist('cn[a-b]')).toThrow(/not a list of numbers/);
    expect(() => expandHostlist('cn;[1-2]')).toThrow(/not part of a host name/);
    expect(() => expandHostlist('cn[1-99999999]')).toThrow(/more than 100000 names/);
    expect(() => expandHostlist('a[1-1000]b[1-1000]')).toThrow(/more than 100000 names/);
  });
});
