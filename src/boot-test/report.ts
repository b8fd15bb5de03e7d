import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { parseRecord } from '../store/record.js';
import { testReportRecord, type TestReport } from './report-schema.js';

export type { TestReport } from './report-schema.js';

/**
 * Writes the report into the version directory: test-report.json (the latest run),
 * junit.xml, console.log, and a copy under test-reports/ that later boots compare against.
 */
export async function writeReport(versionDir: string, report: TestReport, consoleFile: string): Promise<void> {
  const history = path.join(versionDir, 'test-reports');
  await mkdir(history, { recursive: true });
  const stamp = report.startedAt.replace(/[-:.]/g, '');
  const json = `${JSON.stringify(report, null, 2)}\n`;
  await writeFile(path.join(history, `${stamp}-${report.via}.json`), json);
  await replace(path.join(versionDir, 'test-report.json'), json);
  await replace(path.join(versionDir, 'junit.xml'), junitXml(report));
  await replace(path.join(versionDir, 'console.log'), await readFile(consoleFile).catch(() => Buffer.alloc(0)));
}

/** The latest boot test's report of a version directory, if it was tested. */
export async function readTestReport(versionDir: string): Promise<TestReport | undefined> {
  const text = await readFile(path.join(versionDir, 'test-report.json'), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseRecord(path.join(versionDir, 'test-report.json'), text, testReportRecord);
}

/** SSH host keys of earlier boots of this version. */
export async function earlierHostKeys(versionDir: string): Promise<string[]> {
  const dir = path.join(versionDir, 'test-reports');
  const keys: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const file = path.join(dir, name);
    const report = parseRecord(file, await readFile(file, 'utf8'), testReportRecord);
    if (report.hostKey) keys.push(report.hostKey);
  }
  return keys;
}

async function replace(file: string, content: string | Buffer): Promise<void> {
  await writeFile(`${file}.tmp`, content);
  await rename(`${file}.tmp`, file);
}

export function junitXml(report: TestReport): string {
  const xmlText = (text: string) =>
    text
      .replace(/[<>&"']/g, (ch) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[ch]!)
      .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '');
  const suite = `${report.name}@${report.version} (${report.via})`;
  const cases = report.checks.map((check) => {
    const body = check.passed ? '' : `<failure message="${xmlText(check.reason ?? 'failed')}">${xmlText(check.output)}</failure>`;
    return `    <testcase classname="${xmlText(suite)}" name="${xmlText(check.name)}" time="${(check.durationMs / 1000).toFixed(3)}">${body}</testcase>`;
  });
  if (report.failure !== undefined) {
    cases.unshift(
      `    <testcase classname="${xmlText(suite)}" name="boot" time="${(report.durationMs / 1000).toFixed(3)}"><failure message="${xmlText(report.failure.reason)}">${xmlText(report.failure.consoleTail.join('\n'))}</failure></testcase>`,
    );
  }
  const failures = report.checks.filter((c) => !c.passed).length + (report.failure ? 1 : 0);
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="${xmlText(suite)}" tests="${cases.length}" failures="${failures}" time="${(report.durationMs / 1000).toFixed(3)}">
${cases.join('\n')}
  </testsuite>
</testsuites>
`;
}
