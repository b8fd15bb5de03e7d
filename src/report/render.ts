import { createHash } from 'node:crypto';

import { Eta } from 'eta';

import { imageCharts } from './chart-data.js';
import { when } from './format.js';
import { pageScript } from './page-script.js';
import { pageStyle } from './page-style.js';
import { eventTemplate, pageTemplate } from './page-template.js';
import { channelsView, groupsView, imagesView, timelineView } from './page-view.js';
import type { ReportData } from './report-data.js';
import { scriptJson } from './safe-json.js';

/** Escapes every `<%= %>`; the template's few raw slots hold only what pxeforge made. */
const eta = new Eta({ autoEscape: true, autoTrim: false, useWith: false, cache: true });
eta.loadTemplate('@event', eventTemplate);

/** Changes shown at once; older ones are folded (the page stays short with years of history). */
const recentChanges = 30;

/**
 * The report page for `data`: one HTML document with its style sheet, Chart.js (`chartBundle`,
 * the library's UMD bundle) and its own script inline. A Content-Security-Policy allows only
 * those two scripts (by digest) and no network at all, so even text that escaped escaping
 * could not run or load anything.
 */
export function renderReport(data: ReportData, chartBundle: string): string {
  if (/<\/script/i.test(chartBundle)) throw new Error('the chart bundle contains `</script`, which would end its script element');
  const hash = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
  const csp = [
    "default-src 'none'",
    `script-src ${hash(chartBundle)} ${hash(pageScript)}`,
    "style-src 'unsafe-inline'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  return eta.renderString(pageTemplate, {
    csp,
    style: pageStyle,
    chartBundle,
    pageScript,
    chartJson: scriptJson(imageCharts(data.images)),
    generationText: data.generation === null ? 'nothing promoted yet' : `generation ${data.generation}`,
    tftpRoot: data.tftpRoot,
    generatedAt: when(data.generatedAt),
    warnings: data.warnings,
    fleetNote: fleetNote(data),
    hasFleet: data.fleet.takenAt !== null,
    channels: channelsView(data),
    groups: groupsView(data),
    timeline: timelineView(data),
    recentChanges,
    images: imagesView(data),
  });
}

function fleetNote(data: ReportData): string {
  const { fleet } = data;
  if (fleet.takenAt !== null)
    return `Each member's booted version is from the fleet snapshot taken ${when(fleet.takenAt)} (${fleet.file}).`;
  if (fleet.problem !== null) return `The fleet snapshot ${fleet.file} ${fleet.problem}: members show what they should boot now.`;
  return `Members show what they should boot now. No fleet snapshot yet (${fleet.file}): what each node booted appears here once one is taken.`;
}
