import type { BuildSettings, SiteTree } from '../site/site-config.js';
import { readChartBundle } from './chart-bundle.js';
import { gatherReport } from './gather.js';
import { renderReport } from './render.js';
import { checkReportDir, writeReportFile } from './write-report.js';

/** `pxeforge report`: gather → render → write, outside the PXE tree. */
export async function writeReport(
  site: BuildSettings & SiteTree,
  outDir: string,
  now: Date = new Date(),
): Promise<{ file: string; bytes: number; ms: number }> {
  const started = performance.now();
  await checkReportDir(outDir, site.tftpRoot);
  const html = renderReport(await gatherReport(site, now), await readChartBundle());
  const file = await writeReportFile(outDir, html);
  return { file, bytes: Buffer.byteLength(html, 'utf8'), ms: Math.round(performance.now() - started) };
}
