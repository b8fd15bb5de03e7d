/** Plain-text formatting for the report page: every result is text, escaped by the template. */

const units = [
  ['GiB', 1024 ** 3],
  ['MiB', 1024 ** 2],
  ['KiB', 1024],
] as const;

/** The largest binary unit `bytes` has at least one of (KiB at least). */
export function sizeUnit(bytes: number): { unit: string; divisor: number } {
  const [unit, divisor] = units.find(([, d]) => bytes >= d) ?? units[2];
  return { unit, divisor };
}

/** `412.3 MiB`, `1.2 GiB`, `3.0 KiB`. */
export function size(bytes: number): string {
  const { unit, divisor } = sizeUnit(bytes);
  return `${(bytes / divisor).toFixed(1)} ${unit}`;
}

/** Milliseconds as seconds with one decimal, without the unit (the column header names it). */
export function seconds(ms: number | undefined): string {
  return ms === undefined ? '–' : (ms / 1000).toFixed(1);
}

/** `2026-11-25 12:04 UTC` for an ISO time; anything else as it was written. */
export function when(iso: string | null): string {
  if (iso === null) return 'unknown';
  const date = new Date(iso);
  if (!/^\d{4}-\d\d-\d\dT/.test(iso) || Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** A version name short enough for a chart axis: `20261125T120455Z-3fa9c1d2` → `11-25 12:04 3fa9c1d2`. */
export function shortVersion(version: string): string {
  const match = /^\d{4}(\d\d)(\d\d)T(\d\d)(\d\d)\d*Z-([0-9a-z]+)$/.exec(version);
  if (match === null) return version.length > 24 ? `${version.slice(0, 23)}…` : version;
  const [, month, day, hour, minute, digest] = match;
  return `${month}-${day} ${hour}:${minute} ${digest}`;
}

export function shortCommit(commit: string | null, dirty: boolean): string {
  return `${commit === null ? 'no commit' : commit.slice(0, 10)}${dirty ? '+dirty' : ''}`;
}
