import { describe, expect, it } from 'vitest';

import type { HistoryEntry } from '../../src/promote/tree.js';
import { timelineView } from '../../src/report/page-view.js';
import type { ReportData } from '../../src/report/report-data.js';
import { timeline } from '../../src/report/timeline.js';

const entry = (generation: number, action: HistoryEntry['action'], extra: Partial<HistoryEntry> = {}): HistoryEntry => ({
  generation,
  at: `2026-11-26T10:0${generation}:00.000Z`,
  user: 'root',
  host: 'admin1',
  action,
  channel: 'production',
  image: 'compute',
  from: 'v1',
  to: 'v2',
  reason: null,
  forced: false,
  allowDirty: false,
  commit: null,
  dirty: false,
  testReport: null,
  ...extra,
});

describe('the timeline of a rollout', () => {
  it('shows each wave with its nodes, the wave moved back and the completion, newest first', () => {
    const nodes = Array.from({ length: 10 }, (_, i) => `cn${String(i + 2).padStart(3, '0')}`);
    const data = {
      timeline: timeline([
        entry(1, 'rollout', { wave: 1, nodes: ['cn001'] }),
        entry(2, 'rollout', { wave: 2, nodes }),
        entry(3, 'rollout-rollback', { wave: 2, nodes, from: 'v2', to: 'v1' }),
        entry(4, 'rollout-complete', { nodes: [] }),
      ]),
    } as unknown as ReportData;
    expect(timelineView(data).map((e) => [e.badges[0]!.text, e.what])).toEqual([
      ['rollout complete', 'production: compute v1 → v2'],
      ['↶ rollout undone', 'production: compute v2 → v1 (wave 2: cn002, cn003, cn004, cn005, cn006, cn007, cn008, cn009 and 2 more)'],
      ['rollout wave', 'production: compute v1 → v2 (wave 2: cn002, cn003, cn004, cn005, cn006, cn007, cn008, cn009 and 2 more)'],
      ['rollout wave', 'production: compute v1 → v2 (wave 1: cn001)'],
    ]);
  });
});
