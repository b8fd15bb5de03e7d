import { invalidInput } from '../errors/user-error.js';
import { quoted } from '../errors/quote-text.js';

/** One step of `--waves`: a number of nodes, or a share of all the rollout's nodes; both count from the start (cumulative). */
export type WaveStep = { kind: 'nodes'; count: number } | { kind: 'percent'; percent: number };

/** A node a rollout moves: a member of a node group following the image in the channel. */
export interface RolloutNode {
  mac: string;
  host: string | null;
  group: string;
}

const wavesHint = 'e.g. --waves 1,10%,50%,100%: each step is how many nodes (or what share of them) run the new version after that wave';

/**
 * Parses `--waves`: comma-separated steps, each a whole number of nodes (≥ 1) or a percentage
 * (0 < p ≤ 100), growing from step to step, the last one `100%` so that the rollout ends with
 * every node on the new version.
 */
export function parseWaves(spec: string): WaveStep[] {
  const tokens = spec.split(',').map((token) => token.trim());
  const steps = tokens.map((token): WaveStep => {
    const count = /^[0-9]{1,7}$/.exec(token);
    if (count !== null && Number(token) >= 1) return { kind: 'nodes', count: Number(token) };
    const percent = /^([0-9]{1,3}(?:\.[0-9]{1,3})?)%$/.exec(token);
    if (percent !== null && Number(percent[1]) > 0 && Number(percent[1]) <= 100) return { kind: 'percent', percent: Number(percent[1]) };
    throw invalidInput(
      'BAD_WAVES',
      `--waves: ${quoted(token)} is neither a number of nodes (≥ 1) nor a percentage (0 < p ≤ 100%)`,
      wavesHint,
    );
  });
  const last = steps.at(-1)!;
  if (last.kind !== 'percent' || last.percent !== 100)
    throw invalidInput(
      'BAD_WAVES',
      `--waves ${quoted(spec)} does not end with 100%: the rollout would leave nodes on the old version`,
      wavesHint,
    );
  for (let i = 1; i < steps.length; i += 1) {
    const [before, step] = [steps[i - 1]!, steps[i]!];
    if (
      before.kind === step.kind &&
      (before.kind === 'nodes' ? before.count >= (step as typeof before).count : before.percent >= (step as typeof before).percent)
    )
      throw invalidInput(
        'BAD_WAVES',
        `--waves ${quoted(spec)}: step ${i + 1} (${tokens[i]}) is not larger than step ${i} (${tokens[i - 1]})`,
        wavesHint,
      );
  }
  return steps;
}

/** How many nodes run the new version after a step, of `total`: a share rounds up, so that every wave moves at least one node. */
export function stepTarget(step: WaveStep, total: number): number {
  if (step.kind === 'nodes') return Math.min(step.count, total);
  return Math.min(total, Math.ceil((step.percent * total) / 100 - 1e-9));
}

/**
 * The rollout's nodes in the order they move: every prefix takes from each node group in
 * proportion to its size (each group's i-th node comes at (i + ½) / size of the way), so a
 * 10% wave moves about 10% of every group, and the first node comes from the largest group.
 * Within a group, members keep the order of pxeforge.yaml.
 */
export function interleave(groups: readonly (readonly RolloutNode[])[]): RolloutNode[] {
  const keyed = groups.flatMap((members, groupIndex) =>
    members.map((node, index) => ({ node, key: (index + 0.5) / members.length, groupIndex, index })),
  );
  keyed.sort((a, b) => a.key - b.key || a.groupIndex - b.groupIndex || a.index - b.index);
  return keyed.map(({ node }) => node);
}

/**
 * The waves: the ordered nodes cut at each step's target. A step that moves no node beyond the
 * one before it (10% of 4 nodes after a canary of 1) is no wave of its own.
 */
export function planWaves(ordered: readonly RolloutNode[], steps: readonly WaveStep[]): RolloutNode[][] {
  const waves: RolloutNode[][] = [];
  let moved = 0;
  for (const step of steps) {
    const target = Math.max(moved, stepTarget(step, ordered.length));
    if (target === moved) continue;
    waves.push(ordered.slice(moved, target));
    moved = target;
  }
  return waves;
}

/** `--max-failures`: how many nodes of a wave may fail its health gate, as a number or a share of the wave. */
export type FailureBudget = { kind: 'nodes'; count: number } | { kind: 'percent'; percent: number };

export function parseMaxFailures(spec: string): FailureBudget {
  const trimmed = spec.trim();
  if (/^[0-9]{1,7}$/.test(trimmed)) return { kind: 'nodes', count: Number(trimmed) };
  const percent = /^([0-9]{1,3}(?:\.[0-9]{1,3})?)%$/.exec(trimmed);
  if (percent !== null && Number(percent[1]) <= 100) return { kind: 'percent', percent: Number(percent[1]) };
  throw invalidInput(
    'BAD_OPTION',
    `--max-failures takes a number of nodes or a percentage of each wave, got ${quoted(spec)}`,
    'e.g. --max-failures 0 (the default: any failure stops the rollout), 2, or 5%',
  );
}

/** The failures a wave of `size` nodes may have and still go on: a share rounds down (5% of 10 nodes is 0). */
export function waveBudget(budget: FailureBudget, size: number): number {
  if (budget.kind === 'nodes') return Math.min(budget.count, size);
  return Math.floor((budget.percent * size) / 100 + 1e-9);
}
