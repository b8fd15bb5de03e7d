import { Command } from 'commander';

import { readTestReport, type TestReport } from '../boot-test/report.js';
import { reportCovers } from '../integrity/coverage.js';

import { ExitCode } from '../errors/user-error.js';
import { diffLines, diffManifests } from '../store/diff.js';
import type { Manifest } from '../store/manifest.js';
import { listImages, listVersions, readManifest, resolveVersion, versionDir } from '../store/store.js';
import type { CommandContext } from './context.js';
import { writeLines } from './io.js';
import { requireSite } from './load-site.js';

const mib = (bytes: number | undefined) => (bytes === undefined ? '-' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);

export function imagesCommand(context: CommandContext, setExit: (code: number) => void): Command {
  return new Command('images')
    .summary('list images and their versions in the store')
    .argument('[name]', 'only this image')
    .action(async (name: string | undefined) => {
      const site = await requireSite(await context.repo(), ['build']);
      const rows = [];
      for (const image of name === undefined ? await listImages(site.store) : [name]) {
        for (const version of await listVersions(site.store, image)) {
          const manifest = await readManifest(versionDir(site.store, image, version));
          const size = Object.values(manifest.artifacts).reduce((sum, a) => sum + a.size, 0);
          rows.push({
            image,
            version,
            format: manifest.format,
            size,
            kernel: manifest.kernel.version,
            commit: manifest.git.commit,
            dirty: manifest.git.dirty,
          });
        }
      }
      if (context.globals().json) context.io.stdout.write(`${JSON.stringify(rows)}\n`);
      else
        writeLines(
          context.io.stdout,
          rows.length === 0
            ? ['no images in the store']
            : rows.map(
                (r) =>
                  `${r.image}@${r.version}  ${r.format.padEnd(9)}  ${mib(r.size).padStart(10)}  ${r.kernel}  ${r.commit?.slice(0, 10) ?? 'no-git'}${r.dirty ? '+dirty' : ''}`,
              ),
        );
      setExit(ExitCode.ok);
    });
}

export function showCommand(context: CommandContext, setExit: (code: number) => void): Command {
  return new Command('show')
    .summary('show one image version: artifacts, kernel, packages, provenance')
    .argument('<image>', 'name@version, or name for the latest version')
    .action(async (reference: string) => {
      const site = await requireSite(await context.repo(), ['build']);
      const { dir } = await resolveVersion(site.store, reference);
      const m = await readManifest(dir);
      const test = await readTestReport(dir);
      if (context.globals().json) {
        context.io.stdout.write(`${JSON.stringify({ ...m, test: test ?? null })}\n`);
      } else {
        writeLines(context.io.stdout, [
          `${m.name}@${m.version}  (${m.format}, built ${m.createdAt} by the ${m.executor} executor)`,
          `recipe commit: ${m.git.commit ?? 'not a git checkout'}${m.git.dirty ? ' (with uncommitted changes)' : ''}`,
          `inputs digest: ${m.inputsDigest}`,
          `kernel: ${m.kernel.version} (${m.kernel.package})`,
          `cmdline: ${m.kernel.cmdline}`,
          'artifacts:',
          ...Object.entries(m.artifacts).map(([name, a]) => `  ${name.padEnd(16)} ${mib(a.size).padStart(10)}  sha256:${a.sha256}`),
          `packages: ${m.packages.length}`,
          `stages: ${Object.entries(m.durations)
            .map(([stage, ms]) => `${stage} ${(ms / 1000).toFixed(1)} s`)
            .join(', ')}`,
          `cache: ${
            Object.entries(m.cache)
              .map(([step, outcome]) => `${step} ${outcome}`)
              .join(', ') || '-'
          }`,
          `hygiene: SSH host keys ${m.hygiene.sshHostKeys}, machine-id ${m.hygiene.machineId}, ${m.hygiene.removed.length} paths removed`,
          `boot test: ${testStatus(m, test)}`,
          `directory: ${dir}`,
        ]);
      }
      setExit(ExitCode.ok);
    });
}

/** The latest boot test of a version, in words; stale when the digests it booted differ from the manifest's. */
function testStatus(manifest: Manifest, report: TestReport | undefined): string {
  if (report === undefined) return 'not tested';
  const current = reportCovers(report, manifest);
  const passed = report.checks.filter((c) => c.passed).length;
  const verdict = report.passed ? 'passed' : `FAILED${report.failure ? ` (${report.failure.reason})` : ''}`;
  return `${verdict} via ${report.via} at ${report.startedAt} (${passed}/${report.checks.length} checks, ${report.qemu.accel})${current ? '' : ' — for other artifact digests'}`;
}

export function diffCommand(context: CommandContext, setExit: (code: number) => void): Command {
  return new Command('diff')
    .summary('compare two image versions: inputs, packages, kernel, cmdline, artifact sizes')
    .argument('<a>', 'name@version')
    .argument('<b>', 'name@version')
    .action(async (a: string, b: string) => {
      const site = await requireSite(await context.repo(), ['build']);
      const diff = diffManifests(
        await readManifest((await resolveVersion(site.store, a)).dir),
        await readManifest((await resolveVersion(site.store, b)).dir),
      );
      if (context.globals().json) {
        context.io.stdout.write(`${JSON.stringify(diff)}\n`);
      } else {
        const lines = diffLines(diff, { size: mib, identical: true });
        writeLines(context.io.stdout, lines);
      }
      setExit(ExitCode.ok);
    });
}
