import { bootPhases } from '../boot-test/console-watch.js';
import { diffLines } from '../store/diff.js';
import { seconds, shortCommit, size, when } from './format.js';
import type { ReportData, TestVerdict, TimelineEntry, VersionView } from './report-data.js';

/**
 * ReportData as the template shows it: every value is already the text a reader sees (the
 * template only places and escapes it). Badges carry their word, so nothing is told by
 * colour alone.
 */
export interface Badge {
  text: string;
  tone: 'good' | 'bad' | 'warn' | 'plain';
}

const verdictBadge: Record<TestVerdict, Badge> = {
  passed: { text: '✓ boot test passed', tone: 'good' },
  failed: { text: '✗ boot test FAILED', tone: 'bad' },
  forced: { text: '! FORCED without a passing test', tone: 'warn' },
  untested: { text: '? not boot-tested', tone: 'warn' },
};

export function channelsView(data: ReportData) {
  return data.channels.map((channel) => ({
    name: channel.name,
    badges: channel.protected ? [{ text: 'protected', tone: 'plain' } as Badge] : [],
    description: channel.description,
    served: channel.served.map((s) => ({
      image: s.image,
      version: s.version,
      test: verdictBadge[s.test],
      facts: [
        ['since', when(s.since)],
        ['by', s.by],
        ['commit', shortCommit(s.commit, s.dirty)],
        ['rollback to', s.rollback.length === 0 ? 'no earlier version' : s.rollback.join(', ')],
      ] as const,
    })),
  }));
}

export function groupsView(data: ReportData) {
  const fleet = data.fleet.takenAt !== null;
  return data.groups.map((group) => ({
    name: group.name,
    image: group.image,
    channel: group.channel,
    firmware: group.firmware,
    shouldBoot: group.shouldBoot ?? 'nothing yet (never promoted)',
    notRendered: group.notRendered,
    members: group.counts.members,
    fleetSummary: fleet
      ? `${group.counts.reported} reported, ${group.counts.drift} drift, ${group.counts.pendingReboot} pending reboot, ${group.counts.unverified} unverified`
      : 'no snapshot',
    rows: group.members.map((m) => ({
      host: m.host ?? '–',
      mac: m.mac,
      shouldBoot: m.shouldBoot ?? 'nothing yet',
      booted: m.fleet === null ? 'no snapshot' : (m.fleet.problem ?? m.fleet.booted ?? 'nothing booted'),
      verified: m.fleet === null || m.fleet.verified === null ? '–' : m.fleet.verified ? 'yes' : 'NO',
      state:
        m.fleet === null
          ? '–'
          : [m.fleet.drift ? 'DRIFT' : '', m.fleet.pendingReboot ? 'pending reboot' : ''].filter(Boolean).join(', ') || 'ok',
    })),
  }));
}

const kindBadge: Record<TimelineEntry['kind'], Badge> = {
  promote: { text: 'promote', tone: 'plain' },
  rollback: { text: '↶ rollback', tone: 'warn' },
  refresh: { text: 'refresh', tone: 'plain' },
  rollout: { text: 'rollout wave', tone: 'plain' },
  'rollout-rollback': { text: '↶ rollout undone', tone: 'warn' },
  'rollout-complete': { text: 'rollout complete', tone: 'plain' },
};

/** Which nodes a rollout's change moved: the wave and up to 8 host names. */
function rolloutNodes(e: TimelineEntry): string {
  if (e.nodes.length === 0) return '';
  const shown = e.nodes.slice(0, 8).join(', ') + (e.nodes.length > 8 ? ` and ${e.nodes.length - 8} more` : '');
  return ` (${e.wave === null ? '' : `wave ${e.wave}: `}${shown})`;
}

export function timelineView(data: ReportData) {
  return data.timeline.map((e) => ({
    at: when(e.at),
    generation: e.generation,
    kind: e.kind,
    forced: e.forced,
    badges: [
      kindBadge[e.kind],
      ...(e.forced ? [{ text: '! FORCED', tone: 'bad' } as Badge] : []),
      ...(e.allowDirty ? [{ text: 'dirty allowed', tone: 'warn' } as Badge] : []),
      ...(e.recovered !== null ? [{ text: 'lock recovered', tone: 'warn' } as Badge] : []),
    ],
    what:
      e.kind === 'refresh'
        ? 'node groups re-rendered from pxeforge.yaml'
        : `${e.channel ?? '?'}: ${e.image ?? '?'} ${e.from ?? '(none)'} → ${e.to ?? '?'}${rolloutNodes(e)}`,
    who: `${e.user}${e.sudoUser === null ? '' : ` (sudo by ${e.sudoUser})`} on ${e.host}`,
    reason: e.reason,
    recovered: e.recovered,
  }));
}

export function imagesView(data: ReportData) {
  return data.images.map((image, index) => ({
    index,
    name: image.name,
    hasPhases: image.versions.some((v) => v.test !== null && Object.keys(v.test.phases).length > 0),
    chartHeight: 90 + image.versions.length * 30,
    rows: image.versions.map(versionRow),
    changes: image.changes.map(({ from, to, diff }) => {
      const lines = diffLines(diff, { size: (bytes) => (bytes === undefined ? '–' : size(bytes)), identical: false });
      const counts = [
        diff.packages.added.length + diff.packages.removed.length + diff.packages.changed.length > 0
          ? `packages: ${diff.packages.added.length} added, ${diff.packages.removed.length} removed, ${diff.packages.changed.length} upgraded`
          : 'same packages',
        diff.kernel ? 'new kernel' : 'same kernel',
        diff.inputs.changed.length === 0 ? 'same inputs' : `${diff.inputs.changed.length} input file(s) changed`,
      ];
      return { from, to, summary: counts.join('; '), lines };
    }),
  }));
}

function versionRow(v: VersionView) {
  const test = v.test;
  const verdict: Badge =
    test === null
      ? { text: '? not tested', tone: 'warn' }
      : test.passed
        ? { text: `✓ passed (${test.checksPassed}/${test.checks} checks)`, tone: 'good' }
        : { text: `✗ FAILED (${test.checksPassed}/${test.checks} checks)`, tone: 'bad' };
  return {
    version: v.version,
    built: when(v.createdAt).replace(/ UTC$/, ''),
    format: v.format ?? '–',
    size: size(v.size),
    packages: v.packages === null ? '–' : String(v.packages),
    kernel: v.kernel ?? '–',
    commit: shortCommit(v.commit, v.dirty),
    test: test?.stale ? { text: `${verdict.text}, for other artifacts`, tone: 'warn' as const } : verdict,
    phases: test === null ? '–' : bootPhases.map((p) => `${p} ${seconds(test.phases[p])}`).join(' · '),
    servedBy: v.servedBy.length === 0 ? '–' : v.servedBy.join(', '),
    problem: v.problem,
  };
}
