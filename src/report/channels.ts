import type { Served, TreeState } from '../promote/tree.js';
import type { SiteConfig } from '../site/site-config.js';
import type { ChannelView, TestVerdict } from './report-data.js';

/** Each channel of pxeforge.yaml (then any other the tree still serves) with what it serves. */
export function channelViews(channels: SiteConfig['channels'], state: TreeState | undefined): ChannelView[] {
  const served = state?.channels ?? {};
  const names = [
    ...Object.keys(channels),
    ...Object.keys(served)
      .filter((name) => !(name in channels))
      .sort(),
  ];
  return names.map((name) => ({
    name,
    protected: channels[name]?.protected ?? false,
    description: channels[name]?.description ?? null,
    served: Object.entries(served[name] ?? {})
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([image, s]) => ({
        image,
        version: s.version,
        since: s.since,
        by: s.by,
        test: verdict(s),
        commit: s.commit ?? null,
        dirty: s.dirty === true,
        rollback: [...(s.previous ?? [])].reverse(),
      })),
  }));
}

function verdict(served: Served): TestVerdict {
  if (served.forced) return 'forced';
  if (served.testPassed === true) return 'passed';
  if (served.testPassed === false) return 'failed';
  return 'untested';
}
