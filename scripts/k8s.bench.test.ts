// Kubernetes executor benchmarks against the fake API server (run through scripts/bench-k8s):
// 50 concurrent builds from one `pxeforge build --executor kubernetes --parallel 50`: the
// client's peak RSS and the latency from a line printed in a pod to the event on the client's
// stdout; and one build pod printing 1 GB of log lines beside one printing 10 MB: the client's
// peak RSS for both, side by side.
import { spawn } from 'node:child_process';
import { appendFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';

import { expect, it } from 'vitest';

import { copyFixtureRepo, projectRoot } from '../test/helpers/cli.js';
import { startFakeKube, type Scenario } from '../test/helpers/fake-kube.js';

async function site(scenario: Scenario, recipes: number) {
  const fixture = await copyFixtureRepo();
  const fake = await startFakeKube(scenario);
  const kubeconfig = path.join(fixture.root, 'kubeconfig.yaml');
  await writeFile(kubeconfig, fake.kubeConfig.exportConfig());
  await appendFile(
    path.join(fixture.root, 'pxeforge.yaml'),
    `kubernetes:\n  kubeconfig: ${kubeconfig}\n  image: pxeforge-builder:0.1.0\n  storage: { pvc: pxeforge-shared, mountPath: /srv/pxeforge }\n`,
  );
  const files = [];
  for (let i = 0; i < recipes; i += 1) {
    const name = `r${String(i).padStart(2, '0')}`;
    await writeFile(path.join(fixture.root, 'recipes', `${name}.yaml`), `name: ${name}\nextends: base\n`);
    files.push(`recipes/${name}.yaml`);
  }
  return { fixture, fake, files };
}

/** Runs the CLI under /usr/bin/time; calls onLine for each stdout line; resolves with peak RSS (MiB). */
function runClient(
  cwd: string,
  argv: string[],
  onLine: (line: string) => void,
): Promise<{ peakMiB: number; seconds: number; code: number | null }> {
  const started = performance.now();
  const child = spawn('/usr/bin/time', ['-f', 'peak-kb %M', process.execPath, path.join(projectRoot, 'bin/pxeforge.js'), ...argv], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', onLine);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      const kb = Number(/peak-kb (\d+)/.exec(stderr)?.[1] ?? NaN);
      if (code !== 0) console.log(stderr.slice(-2000));
      resolve({ peakMiB: Math.round(kb / 1024), seconds: Math.round((performance.now() - started) / 100) / 10, code });
    }),
  );
}

const result = (pod: { metadata?: { labels?: Record<string, string> } }) =>
  JSON.stringify({ type: 'result', name: pod.metadata?.labels?.['pxeforge.io/recipe'], version: '20261125T120000Z-3fa9c1d2' });

it('50 concurrent builds: client peak RSS and event latency', { timeout: 600_000 }, async () => {
  const lines = Array.from({ length: 200 }, (_, i) => JSON.stringify({ type: 'info', stage: 'packages', message: `t={now} line ${i}` }));
  const { fixture, fake, files } = await site({ lines: (pod) => [...lines, result(pod)], end: { kind: 'succeeded' }, lineDelayMs: 10 }, 50);
  const latencies: number[] = [];
  const run = await runClient(fixture.root, ['--json', 'build', ...files, '--executor', 'kubernetes', '--parallel', '50'], (line) => {
    const match = /t=(\d+) line/.exec(line);
    if (match) latencies.push(Date.now() - Number(match[1]));
  });
  await fake.close();
  await fixture.remove();
  expect(run.code).toBe(0);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  console.log(
    `50 concurrent builds (200 events each, one every 10 ms): ${run.seconds} s, client peak RSS ${run.peakMiB} MiB, ` +
      `${latencies.length} events, latency p50 ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${latencies.at(-1)} ms`,
  );
  expect(latencies.length).toBe(50 * 200);
});

it('a build pod printing 1 GB of log lines: client memory stays flat (10 MB beside it)', { timeout: 900_000 }, async () => {
  const line = JSON.stringify({ type: 'output', stage: 'packages', stream: 'stdout', line: 'x'.repeat(960) });
  const figures: string[] = [];
  for (const megabytes of [10, 1024]) {
    const count = Math.round((megabytes * 1024 * 1024) / (line.length + 1));
    const lines = new Array<string>(count).fill(line);
    const { fixture, fake, files } = await site({ lines: (pod) => [...lines, result(pod)], end: { kind: 'succeeded' } }, 1);
    let received = 0;
    const run = await runClient(fixture.root, ['--json', 'build', files[0]!, '--executor', 'kubernetes'], () => (received += 1));
    await fake.close();
    await fixture.remove();
    expect(run.code).toBe(0);
    expect(received).toBeGreaterThanOrEqual(count);
    figures.push(`${megabytes} MB of log (${count} lines): ${run.seconds} s, client peak RSS ${run.peakMiB} MiB`);
  }
  console.log(figures.join('\n'));
});
