import { listImages, listVersions, versionDir } from '../store/store.js';
import { readCurrent, readHistoryFile, treePaths } from '../promote/tree.js';
import type { BuildSettings, SiteTree } from '../site/site-config.js';
import { channelViews } from './channels.js';
import { fleetSnapshotFile, readFleetSnapshot } from './fleet-snapshot.js';
import { groupViews } from './groups.js';
import { imageView } from './images.js';
import type { ReportData } from './report-data.js';
import { readStoredVersion } from './stored-version.js';
import { timeline } from './timeline.js';

/**
 * Reads the PXE tree (current generation, history), the store (every version's manifest and
 * latest test report) and the fleet snapshot, and returns what the report page shows. It
 * only reads; what it cannot read becomes a warning on the page, except a damaged tree
 * (`current` broken), which is an error as in every other command.
 */
export async function gatherReport(site: BuildSettings & SiteTree, now: Date = new Date()): Promise<ReportData> {
  const paths = treePaths(site.tftpRoot);
  const current = await readCurrent(paths);
  const history = await readHistoryFile(paths);
  const fleetFile = fleetSnapshotFile(site.store);
  const fleet = await readFleetSnapshot(fleetFile);
  const state = current?.state;
  const images = [];
  for (const name of await listImages(site.store)) {
    const versions = [];
    for (const version of await listVersions(site.store, name))
      versions.push(await readStoredVersion(versionDir(site.store, name, version), version));
    images.push(imageView(name, versions, state));
  }
  const warnings = [
    ...history.damaged.map(({ line, problem }) => `history.jsonl line ${line}: ${problem}; not shown`),
    ...(fleet.problem === undefined ? [] : [`the fleet snapshot ${fleet.problem}; members show what they should boot only`]),
  ];
  return {
    generatedAt: now.toISOString(),
    tftpRoot: site.tftpRoot,
    generation: current?.generation ?? null,
    channels: channelViews(site.channels, state),
    groups: groupViews(site.nodeGroups, state, fleet.snapshot),
    timeline: timeline(history.entries),
    images,
    fleet: { file: fleetFile, takenAt: fleet.snapshot?.takenAt ?? null, problem: fleet.problem ?? null },
    warnings,
  };
}
