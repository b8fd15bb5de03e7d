import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * Chart.js's browser bundle (UMD, defines the global `Chart`), read from the installed
 * package each time a report is written and inlined into the page: the page needs no
 * network and no file beside it.
 */
export async function readChartBundle(): Promise<string> {
  const require = createRequire(import.meta.url);
  // The package exports no path to its UMD bundle; it sits beside the CommonJS entry.
  const file = path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js');
  return readFile(file, 'utf8');
}
