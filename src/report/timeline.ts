import type { HistoryEntry } from '../promote/tree.js';
import type { TimelineEntry } from './report-data.js';

/**
 * The history as a timeline, newest first: promotions, rollbacks, refreshes and the waves of
 * rollouts, with forced promotions, dirty builds allowed and recovered lock takeovers marked.
 */
export function timeline(entries: readonly HistoryEntry[]): TimelineEntry[] {
  return entries
    .map(
      (e): TimelineEntry => ({
        generation: e.generation,
        at: e.at,
        kind: e.action,
        channel: e.channel,
        image: e.image,
        from: e.from,
        to: e.to,
        user: e.user,
        sudoUser: typeof e.sudoUser === 'string' && e.sudoUser !== '' ? e.sudoUser : null,
        host: e.host,
        reason: e.reason,
        forced: e.forced === true,
        allowDirty: e.allowDirty === true,
        recovered: typeof e.recovered === 'string' && e.recovered !== '' ? e.recovered : null,
        wave: e.wave ?? null,
        nodes: e.nodes ?? [],
      }),
    )
    .reverse();
}
