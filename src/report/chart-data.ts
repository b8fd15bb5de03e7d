import { bootPhases } from '../boot-test/console-watch.js';
import { shortVersion, sizeUnit } from './format.js';
import type { ImageView } from './report-data.js';

/** What the page's script draws for one image: one bar per version. */
export interface ImageChart {
  /** The canvas ids are `phases-<index>` and `size-<index>`: no text from files ends up in an id. */
  index: number;
  image: string;
  labels: string[];
  /** Seconds spent in each boot phase, from the phase before it reached (QEMU start for the first). */
  phases: { phase: string; seconds: (number | null)[] }[];
  /** Artifact sizes in `sizeUnit` (the largest unit the biggest version has one of). */
  sizes: number[];
  sizeUnit: string;
  packages: (number | null)[];
}

export function imageCharts(images: readonly ImageView[]): ImageChart[] {
  return images.map((image, index) => {
    const { unit, divisor } = sizeUnit(Math.max(0, ...image.versions.map((v) => v.size)));
    return {
      index,
      image: image.name,
      labels: image.versions.map((v) => shortVersion(v.version)),
      phases: bootPhases.map((phase, i) => ({
        phase,
        seconds: image.versions.map((v) => {
          const at = v.test?.phases[phase];
          if (at === undefined) return null;
          const before =
            bootPhases
              .slice(0, i)
              .map((p) => v.test?.phases[p])
              .filter((t): t is number => t !== undefined)
              .at(-1) ?? 0;
          return Math.round(Math.max(0, at - before) / 100) / 10;
        }),
      })),
      sizes: image.versions.map((v) => Math.round((v.size / divisor) * 10) / 10),
      sizeUnit: unit,
      packages: image.versions.map((v) => v.packages),
    };
  });
}
