import { PassThrough } from 'node:stream';

import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

import type { PxeEvent } from '../../src/events/events.js';
import { run } from '../../src/exec/run.js';
import { chooseReporter, createReporter } from '../../src/progress/choose-reporter.js';
import { runStages, type Stage } from '../../src/progress/stages.js';
import { UserError } from '../../src/errors/user-error.js';
import { projectRoot } from '../helpers/cli.js';

const stages: Stage<{ log: string[] }>[] = [
  {
    id: 'bootstrap',
    title: 'Bootstrap the root',
    run: async (context, { emit, signal }) => {
      await run(['sh', '-c', 'echo fetching; echo unpacking'], { emit, signal });
      context.log.push('bootstrap');
      return '2 steps';
    },
  },
  { id: 'hooks', title: 'Run hooks', run: async () => ({ skipped: 'the recipe has no hooks' }) },
  {
    id: 'pack',
    title: 'Pack',
    run: async (_, { emit, signal }) => {
      emit({ type: 'info', message: 'packing' });
      await run(['sh', '-c', 'echo "mksquashfs: No space left on device" >&2; exit 1'], { emit, signal });
    },
  },
  { id: 'manifest', title: 'Write manifest', run: async (context) => void context.log.push('never') },
];

function capture(kind: 'plain' | 'json') {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { reporter: createReporter(kind, stream), text: () => text };
}

describe('runStages', () => {
  it('emits plan, start, output, end and skip; stops at the first failure and rethrows it', async () => {
    const events: PxeEvent[] = [];
    const context = { log: [] as string[] };
    const error = await runStages(stages, context, { emit: (e) => events.push(e), signal: new AbortController().signal }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UserError);
    expect(context.log).toEqual(['bootstrap']);
    expect(events.map((e) => e.type)).toEqual([
      'plan',
      'stage-start',
      'command',
      'output',
      'output',
      'stage-end',
      'stage-start',
      'stage-skip',
      'stage-start',
      'info',
      'command',
      'output',
      'stage-end',
    ]);
    expect(events.filter((e) => e.type !== 'plan').every((e) => 'stage' in e && e.stage !== undefined)).toBe(true);
    const last = events.at(-1);
    expect(last).toMatchObject({
      type: 'stage-end',
      stage: 'pack',
      ok: false,
      error: expect.stringMatching(/^no space left on device while running: sh -c/),
    });
  });

  it('plain lines name their stage', async () => {
    const { reporter, text } = capture('plain');
    await runStages(stages, { log: [] }, { emit: reporter.onEvent, signal: new AbortController().signal }).catch(() => undefined);
    await reporter.close();
    const lines = text()
      .replace(/\d+\.\d s/g, 'N s')
      .split('\n');
    expect(lines).toEqual([
      '[bootstrap] Bootstrap the root...',
      "[bootstrap] $ sh -c 'echo fetching; echo unpacking'",
      '[bootstrap] fetching',
      '[bootstrap] unpacking',
      '[bootstrap] done in N s: 2 steps',
      '[hooks] Run hooks...',
      '[hooks] skipped: the recipe has no hooks',
      '[pack] Pack...',
      '[pack] packing',
      `[pack] $ sh -c 'echo "mksquashfs: No space left on device" >&2; exit 1'`,
      '[pack] mksquashfs: No space left on device',
      '[pack] FAILED after N s: no space left on device while running: sh -c \'echo "mksquashfs: No space left on device" >&2; exit 1\'',
      '',
    ]);
  });

  it('JSON lines are the events themselves', async () => {
    const { reporter, text } = capture('json');
    await runStages(stages.slice(0, 2), { log: [] }, { emit: reporter.onEvent, signal: new AbortController().signal });
    const events = text()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as PxeEvent);
    expect(events[0]).toEqual({ type: 'plan', stages: stages.slice(0, 2).map(({ id, title }) => ({ id, title })) });
    expect(events.at(-1)).toEqual({ type: 'stage-skip', stage: 'hooks', reason: 'the recipe has no hooks' });
  });

  it('an abort between stages stops the run', async () => {
    const controller = new AbortController();
    controller.abort(new Error('SIGINT received'));
    await expect(runStages(stages, { log: [] }, { emit: () => {}, signal: controller.signal })).rejects.toThrow('SIGINT received');
  });

  it('a title may come from the context (the build asks the distro backend)', async () => {
    const events: PxeEvent[] = [];
    const titled: Stage<{ distro: string }>[] = [
      { id: 'bootstrap', title: (context) => `Bootstrap the ${context.distro} root`, run: async () => undefined },
    ];
    await runStages(titled, { distro: 'Debian' }, { emit: (event) => events.push(event), signal: new AbortController().signal });
    expect(events.slice(0, 2)).toEqual([
      { type: 'plan', stages: [{ id: 'bootstrap', title: 'Bootstrap the Debian root' }] },
      { type: 'stage-start', stage: 'bootstrap', title: 'Bootstrap the Debian root' },
    ]);
  });
});

describe('chooseReporter', () => {
  it('listr2 only on an interactive terminal outside CI', () => {
    const saved = process.env.CI;
    delete process.env.CI;
    try {
      expect(chooseReporter({ json: false, stream: Object.assign(new PassThrough(), { isTTY: true }) })).toBe('tty');
      expect(chooseReporter({ json: false, stream: new PassThrough() })).toBe('plain');
      expect(chooseReporter({ json: true, stream: Object.assign(new PassThrough(), { isTTY: true }) })).toBe('json');
      process.env.CI = 'true';
      expect(chooseReporter({ json: false, stream: Object.assign(new PassThrough(), { isTTY: true }) })).toBe('plain');
    } finally {
      if (saved === undefined) delete process.env.CI;
      else process.env.CI = saved;
    }
  });
});

describe('the listr2 reporter', () => {
  it('draws stages from events on a real terminal', async () => {
    // `script` gives the demo a pseudo-terminal, as an admin's shell would.
    const demo = `import { createReporter } from './dist/progress/choose-reporter.js';
      const r = createReporter('tty', process.stdout);
      const ev = (e) => r.onEvent(e);
      ev({ type: 'plan', stages: [{ id: 'a', title: 'Bootstrap the root' }, { id: 'b', title: 'Run hooks' }, { id: 'c', title: 'Pack' }] });
      ev({ type: 'stage-start', stage: 'a', title: 'Bootstrap the root' });
      ev({ type: 'output', stage: 'a', stream: 'stdout', line: 'fetching' });
      ev({ type: 'stage-end', stage: 'a', ok: true, durationMs: 1500 });
      ev({ type: 'stage-skip', stage: 'b', reason: 'no hooks' });
      ev({ type: 'stage-start', stage: 'c', title: 'Pack' });
      ev({ type: 'stage-end', stage: 'c', ok: false, durationMs: 10, error: 'disk full' });
      await r.close();`;
    const env = { ...process.env, TERM: 'xterm', CI: undefined };
    const result = await execa(
      'script',
      ['-qec', `stty cols 120 rows 40; node --input-type=module -e "${demo.replaceAll('"', '\\"')}"`, '/dev/null'],
      { cwd: projectRoot, env, reject: false },
    );
    const screen = result.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    expect(screen).toContain('Bootstrap the root (1.5 s)');
    expect(screen).toContain('no hooks');
    expect(screen).toContain('disk full');
  });
});
