import { describe, expect, it } from 'vitest';

import { interleave, parseMaxFailures, parseWaves, planWaves, type RolloutNode, stepTarget, waveBudget } from '../../src/rollout/waves.js';

const nodes = (group: string, count: number): RolloutNode[] =>
  Array.from({ length: count }, (_, i) => ({ mac: `${group}-${i}`, host: `${group}${String(i + 1).padStart(3, '0')}`, group }));

const sizes = (waves: RolloutNode[][]) => waves.map((wave) => wave.length);

describe('--waves', () => {
  it('reads numbers of nodes and percentages, cumulative, ending at 100%', () => {
    expect(parseWaves('1,10%,50%,100%')).toEqual([
      { kind: 'nodes', count: 1 },
      { kind: 'percent', percent: 10 },
      { kind: 'percent', percent: 50 },
      { kind: 'percent', percent: 100 },
    ]);
    expect(parseWaves(' 2 , 12.5% ,100%')).toEqual([
      { kind: 'nodes', count: 2 },
      { kind: 'percent', percent: 12.5 },
      { kind: 'percent', percent: 100 },
    ]);
  });

  it.each([
    ['0,100%', /`0` is neither/],
    ['1,150%', /`150%` is neither/],
    ['1,abc,100%', /`abc` is neither/],
    ['', /`` is neither/],
    ['1,50%', /does not end with 100%/],
    ['1,10', /does not end with 100%/],
    ['5,2,100%', /step 2 \(2\) is not larger than step 1 \(5\)/],
    ['50%,10%,100%', /step 2 \(10%\) is not larger than step 1 \(50%\)/],
    ['1,100%,100%', /step 3 \(100%\) is not larger/],
  ])('refuses %j', (spec, message) => {
    expect(() => parseWaves(spec)).toThrow(message);
    try {
      parseWaves(spec);
    } catch (error) {
      expect((error as { code: string }).code).toBe('BAD_WAVES');
    }
  });

  it('rounds shares up, so that every wave moves at least one node, and never beyond all of them', () => {
    expect(stepTarget({ kind: 'percent', percent: 10 }, 4)).toBe(1);
    expect(stepTarget({ kind: 'percent', percent: 10 }, 100)).toBe(10);
    expect(stepTarget({ kind: 'percent', percent: 10 }, 101)).toBe(11);
    expect(stepTarget({ kind: 'percent', percent: 33.3 }, 1000)).toBe(333);
    expect(stepTarget({ kind: 'nodes', count: 5 }, 3)).toBe(3);
  });

  it('cuts the nodes into waves; a step that moves no node beyond the one before is no wave', () => {
    const steps = parseWaves('1,10%,50%,100%');
    expect(sizes(planWaves(nodes('cn', 100), steps))).toEqual([1, 9, 40, 50]);
    expect(sizes(planWaves(nodes('cn', 4), steps))).toEqual([1, 1, 2]);
    expect(sizes(planWaves(nodes('cn', 1), steps))).toEqual([1]);
    expect(sizes(planWaves(nodes('cn', 2), parseWaves('1,100%')))).toEqual([1, 1]);
    expect(sizes(planWaves(nodes('cn', 7), parseWaves('10,100%')))).toEqual([7]);
    // Every node is in exactly one wave, in order.
    const all = nodes('cn', 37);
    expect(planWaves(all, steps).flat()).toEqual(all);
  });

  it('spreads every wave over node groups of different sizes in proportion, the canary from the largest', () => {
    const big = nodes('big', 30);
    const small = nodes('small', 3);
    const ordered = interleave([small, big]);
    expect(ordered).toHaveLength(33);
    expect(ordered[0]!.group).toBe('big');
    const waves = planWaves(ordered, parseWaves('1,10%,50%,100%'));
    expect(sizes(waves)).toEqual([1, 3, 13, 16]);
    const fromSmall = waves.map((wave) => wave.filter((node) => node.group === 'small').length);
    // 4 nodes by 10% (a share of 0.4 from the small group: none), 17 by 50% (1.5: two of its three).
    expect(fromSmall[0]! + fromSmall[1]!).toBe(0);
    expect(fromSmall[0]! + fromSmall[1]! + fromSmall[2]!).toBe(2);
    for (let prefix = 1; prefix <= 33; prefix += 1) {
      const share = ordered.slice(0, prefix).filter((node) => node.group === 'small').length;
      expect(Math.abs(share - (prefix * 3) / 33)).toBeLessThanOrEqual(1);
    }
    // Members keep the order of pxeforge.yaml within their group.
    expect(ordered.filter((node) => node.group === 'small')).toEqual(small);
    expect(ordered.filter((node) => node.group === 'big')).toEqual(big);
  });
});

describe('--max-failures', () => {
  it('takes a number per wave or a share of each wave (rounded down)', () => {
    expect(waveBudget(parseMaxFailures('0'), 10)).toBe(0);
    expect(waveBudget(parseMaxFailures('2'), 10)).toBe(2);
    expect(waveBudget(parseMaxFailures('2'), 1)).toBe(1);
    expect(waveBudget(parseMaxFailures('5%'), 10)).toBe(0);
    expect(waveBudget(parseMaxFailures('5%'), 40)).toBe(2);
    expect(waveBudget(parseMaxFailures('10%'), 30)).toBe(3);
    expect(() => parseMaxFailures('-1')).toThrow(/--max-failures takes a number of nodes or a percentage/);
    expect(() => parseMaxFailures('101%')).toThrow(/--max-failures/);
  });
});
