import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { projectRoot, runCli } from '../helpers/cli.js';
import type { TreeSite } from '../helpers/tree-site.js';
import { computeVersions, hostileReason, hostileUser, makeReportSite, tinyVersions } from './report-fixture.js';

/**
 * The report in a real browser: Debian's chromium (scripts/test installs it), headless, with
 * a profile of its own. The page must load without a console error or a network request,
 * draw its charts, show the right versions and nodes, and fit a phone's width. Screenshots
 * go to var/test-shots/ in the checkout (ignored by git, overwritten by the next run; the paths
 * are printed) for a person to look at, or to PXEFORGE_REPORT_SHOTS.
 */
const executablePath = '/usr/bin/chromium';
let site: TreeSite;
let work: string;
let shots: string;
let page: string;
let context: BrowserContext | undefined;
const [, c2, , c4] = computeVersions as [string, string, string, string];

beforeAll(async () => {
  await access(executablePath).catch(() => {
    throw new Error(`${executablePath} is missing: install Debian's chromium (bash scripts/test does)`);
  });
  site = await makeReportSite({ hostile: true });
  await mkdir(path.join(site.store, 'fleet'));
  await writeFile(
    path.join(site.store, 'fleet', 'status.json'),
    JSON.stringify({
      schemaVersion: 1,
      takenAt: '2026-11-25T11:00:00Z',
      nodes: {
        '52:54:00:00:10:01': { booted: { image: 'compute', version: c2, generation: 8 }, verified: true, pendingReboot: false },
        '52:54:00:00:10:02': {
          booted: { image: 'compute', version: computeVersions[0]!, generation: 3 },
          verified: false,
          pendingReboot: true,
        },
      },
    }),
  );
  work = await mkdtemp(path.join(tmpdir(), 'pxeforge-report-browser-'));
  shots = process.env.PXEFORGE_REPORT_SHOTS ?? path.join(projectRoot, 'var/test-shots');
  await mkdir(shots, { recursive: true });
  const run = await runCli(['report', '--out', path.join(work, 'out')], site.repo);
  expect(run.exitCode, run.stderr).toBe(0);
  page = pathToFileURL(path.join(work, 'out', 'index.html')).href;
  context = await chromium.launchPersistentContext(path.join(work, 'profile'), {
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
  });
}, 120_000);

afterAll(async () => {
  await context?.close();
  await site?.remove();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

/** What the test reads from the page's DOM (run in the page: plain JavaScript, no DOM types here). */
interface Seen {
  production: string[];
  staging: string[];
  versions: string[];
  hosts: string[];
  reasons: string[];
  users: string[];
  images: number;
  charts: { id: string; drawn: boolean }[];
}
const inPage = `(() => {
  const texts = (selector) => [...document.querySelectorAll(selector)].map((e) => (e.textContent || '').trim());
  return {
    production: texts('[data-channel="production"] code.version'),
    staging: texts('[data-channel="staging"] code.version'),
    versions: texts('.image .version-row td:first-child'),
    hosts: texts('tr.member td:first-child'),
    reasons: texts('.reason-text'),
    users: texts('.user'),
    images: document.querySelectorAll('img').length,
    charts: [...document.querySelectorAll('canvas')].map((canvas) => ({
      id: canvas.id,
      drawn: window.Chart.getChart(canvas) !== undefined && canvas.width > 0 && canvas.height > 0,
    })),
  };
})()`;

async function open(width: number) {
  const tab = await context!.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  tab.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`);
  });
  tab.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  tab.on('dialog', (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  tab.on('request', (request) => requests.push(request.url()));
  await tab.setViewportSize({ width, height: 900 });
  await tab.goto(page, { waitUntil: 'load' });
  return { tab, problems, requests };
}

describe('the report in headless Chromium', () => {
  it('loads without console errors or network, draws its charts, and shows the right versions and nodes', async () => {
    const { tab, problems, requests } = await open(1280);
    try {
      const seen = (await tab.evaluate(inPage)) as Seen;
      expect(problems).toEqual([]);
      expect(requests).toEqual([page]);
      expect(seen.production).toEqual([c2]);
      expect(seen.staging).toEqual([c4, tinyVersions[1]]);
      expect(seen.versions).toEqual([...computeVersions, ...tinyVersions]);
      expect(seen.hosts).toEqual(['cn001', 'cn002', '–', 'cn003']);
      expect(seen.reasons).toContain(hostileReason);
      expect(seen.users.some((u) => u.startsWith(hostileUser))).toBe(true);
      expect(seen.images).toBe(0);
      expect(seen.charts).toEqual([
        { id: 'phases-0', drawn: true },
        { id: 'size-0', drawn: true },
        { id: 'phases-1', drawn: true },
        { id: 'size-1', drawn: true },
      ]);
      await tab.locator('details.group >> nth=0 >> summary').click();
      await tab.evaluate('window.scrollTo(0, 0)');
      const file = path.join(shots, 'report-desktop.png');
      await tab.screenshot({ path: file, fullPage: true });
      console.log(`report screenshot (1280 px wide): ${file}`);
    } finally {
      await tab.close();
    }
  }, 60_000);

  it('fits a phone 390 px wide without scrolling sideways', async () => {
    const { tab, problems } = await open(390);
    try {
      expect(problems).toEqual([]);
      expect(await tab.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      const file = path.join(shots, 'report-phone.png');
      await tab.screenshot({ path: file, fullPage: true });
      console.log(`report screenshot (390 px wide): ${file}`);
    } finally {
      await tab.close();
    }
  }, 60_000);
});
