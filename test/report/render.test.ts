import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { recipeRepo } from '../../src/recipe/repo.js';
import { readChartBundle } from '../../src/report/chart-bundle.js';
import { gatherReport } from '../../src/report/gather.js';
import { renderReport } from '../../src/report/render.js';
import type { ReportData } from '../../src/report/report-data.js';
import { scriptJson } from '../../src/report/safe-json.js';
import { loadSiteConfig } from '../../src/site/site-config.js';
import type { TreeSite } from '../helpers/tree-site.js';
import { hostileReason, hostileUser, makeReportSite } from './report-fixture.js';

let site: TreeSite;
let data: ReportData;
let html: string;

beforeAll(async () => {
  site = await makeReportSite({ hostile: true });
  const config = (await loadSiteConfig(recipeRepo(site.repo), ['compute', 'tiny'])).site!;
  data = await gatherReport(config, new Date('2026-11-25T12:00:00Z'));
  html = renderReport(data, await readChartBundle());
});
afterAll(() => site.remove());

const escaped = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

describe('renderReport', () => {
  it('shows a hostile reason and user name as text, never as markup', () => {
    expect(html).toContain(escaped(hostileReason));
    expect(html).toContain(escaped(hostileUser));
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b ');
    expect(html).not.toContain('onerror=alert(1)>');
    // The only script elements are the page's own three: chart data, Chart.js, the page script.
    expect(html.match(/<script\b/g)).toHaveLength(3);
    expect(html.match(/<\/script>/gi)).toHaveLength(3);
  });

  it('escapes text from files in attributes, chart data and the title as well', () => {
    const hostile = structuredClone(data);
    hostile.images[0]!.name = '"><svg onload=alert(3)>';
    hostile.images[0]!.versions[0]!.version = '</script><script>alert(4)</script>\u2028';
    hostile.groups[0]!.name = 'x" onclick="alert(5)';
    hostile.tftpRoot = '</title><script>alert(6)</script>';
    const page = renderReport(hostile, 'window.Chart = undefined;');
    expect(page).not.toMatch(/<svg|<script>alert|onclick="alert/);
    expect(page).toContain('data-image="&quot;&gt;&lt;svg onload=alert(3)&gt;"');
    expect(page).toContain('id="group-x&quot; onclick=&quot;alert(5)"');
    const json = /<script type="application\/json" id="report-chart-data">([\s\S]*?)<\/script>/.exec(page)![1]!;
    expect(JSON.parse(json)[0].image).toBe('"><svg onload=alert(3)>');
    expect(json).not.toMatch(/[<>&\u2028\u2029]/);
  });

  it('allows only its own two scripts by digest and no network', () => {
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)![1]!.replaceAll('&#39;', "'");
    expect(csp).toMatch(
      /^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/]+=*' 'sha256-[A-Za-z0-9+/]+=*'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'$/,
    );
    expect(html).not.toMatch(/<(link|iframe|object|embed)\b|src="http|href="http/);
  });

  it('says which test verdicts, forced promotions and rollbacks it shows, in words', () => {
    expect(html).toContain('! FORCED');
    expect(html).toContain('↶ rollback');
    expect(html).toContain('lock recovered');
    expect(html).toContain('✗ FAILED (2/3 checks)');
    expect(html).toContain('warning: history.jsonl line 10: not valid JSON; not shown');
    expect(html).toContain('No fleet snapshot yet');
  });

  it('refuses a chart bundle that would end its own script element', () => {
    expect(() => renderReport(data, 'var a = "</script>";')).toThrow('`</script`');
  });
});

describe('scriptJson', () => {
  it('escapes what could end or confuse a script element, and parses back to the same value', () => {
    const value = { reason: '</script><!-- & \u2028\u2029 >', n: [1, null] };
    const text = scriptJson(value);
    expect(text).toBe('{"reason":"\\u003c/script\\u003e\\u003c!-- \\u0026 \\u2028\\u2029 \\u003e","n":[1,null]}');
    expect(JSON.parse(text)).toEqual(value);
  });
});
