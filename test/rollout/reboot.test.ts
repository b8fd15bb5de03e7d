import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { printable } from '../../src/errors/quote-text.js';
import { UserError } from '../../src/errors/user-error.js';
import { recipeRepo } from '../../src/recipe/repo.js';
import { maxRebootOutput, type RebootNode, rebootNodes, renderReboot, runReboots } from '../../src/rollout/reboot.js';
import { loadSiteTree } from '../../src/site/site-config.js';
import { copyFixtureRepo } from '../helpers/cli.js';

/** The site's reboot command: rendered from its template (argv, never a shell) and run as real processes. */
const node = (n: number, fields: Partial<RebootNode> = {}): RebootNode => ({
  host: `cn00${n}`,
  mac: `52:54:00:00:10:0${n}`,
  address: `10.1.0.${n}`,
  bmc: `10.2.0.${n}`,
  ...fields,
});

describe('renderReboot', () => {
  it('per-node placeholders make one command per node, also inside an element', () => {
    expect(renderReboot(['ssh', 'root@{host}', 'systemctl', 'reboot'], [node(1), node(2)])).toEqual([
      { argv: ['ssh', 'root@cn001', 'systemctl', 'reboot'], macs: ['52:54:00:00:10:01'] },
      { argv: ['ssh', 'root@cn002', 'systemctl', 'reboot'], macs: ['52:54:00:00:10:02'] },
    ]);
    expect(
      renderReboot(['ipmitool', '-I', 'lanplus', '-H', '{bmc}', 'chassis', 'power', 'cycle', '--tag={host}/{mac}@{address}'], [node(3)]),
    ).toEqual([
      {
        argv: ['ipmitool', '-I', 'lanplus', '-H', '10.2.0.3', 'chassis', 'power', 'cycle', '--tag=cn003/52:54:00:00:10:03@10.1.0.3'],
        macs: ['52:54:00:00:10:03'],
      },
    ]);
  });

  it('braces that hold no name are text: a JSON body stays as written', () => {
    const template = [
      'curl',
      '-sf',
      '-X',
      'POST',
      '-d',
      '{"ResetType": "ForceRestart"}',
      'https://{bmc}/redfish/v1/Systems/1/Actions/ComputerSystem.Reset',
    ];
    expect(renderReboot(template, [node(1)])[0]!.argv).toEqual([
      'curl',
      '-sf',
      '-X',
      'POST',
      '-d',
      '{"ResetType": "ForceRestart"}',
      'https://10.2.0.1/redfish/v1/Systems/1/Actions/ComputerSystem.Reset',
    ]);
  });

  it('{hosts} makes one command for the wave: the host names joined with commas, as one argument', () => {
    const template = ['scontrol', 'reboot', 'ASAP', 'nextstate=resume', 'reason=pxeforge rollout', '{hosts}'];
    expect(renderReboot(template, [node(1), node(2), node(3)])).toEqual([
      {
        argv: ['scontrol', 'reboot', 'ASAP', 'nextstate=resume', 'reason=pxeforge rollout', 'cn001,cn002,cn003'],
        macs: ['52:54:00:00:10:01', '52:54:00:00:10:02', '52:54:00:00:10:03'],
      },
    ]);
    expect(renderReboot(['reboot-nodes', '--nodes={hosts}'], [node(1)])[0]!.argv).toEqual(['reboot-nodes', '--nodes=cn001']);
    expect(renderReboot(template, [])).toEqual([]);
  });

  it('a value with spaces, `;` or `$(…)` stays one argument: it is never given to a shell', () => {
    const bmc = '10.2.0.9; touch /tmp/owned $(id) `id`';
    const [command] = renderReboot(['ipmitool', '-H', '{bmc}', 'chassis', 'power', 'cycle'], [node(9, { bmc })]);
    expect(command!.argv).toEqual(['ipmitool', '-H', bmc, 'chassis', 'power', 'cycle']);
    expect(command!.argv).toHaveLength(6);
  });

  it('a value the template needs and the node lacks is refused, naming the node and the value', () => {
    const refused = (template: string[], nodes: RebootNode[]) => {
      try {
        renderReboot(template, nodes);
      } catch (error) {
        expect(error).toBeInstanceOf(UserError);
        expect((error as UserError).code).toBe('REBOOT_TEMPLATE');
        return (error as UserError).message;
      }
      throw new Error('not refused');
    };
    expect(refused(['ipmitool', '-H', '{bmc}', 'power', 'cycle'], [node(1), node(2, { bmc: undefined })])).toBe(
      'the reboot command names {bmc}, but node cn002 has no `bmc` variable in the `nodes` table',
    );
    expect(refused(['ssh', 'root@{host}', 'reboot'], [node(4, { host: undefined })])).toMatch(
      /names \{host\}, but node 52:54:00:00:10:04 has no host name/,
    );
    expect(refused(['scontrol', 'reboot', '{hosts}'], [node(1), node(5, { host: undefined })])).toMatch(
      /names \{hosts\}, but node 52:54:00:00:10:05 has no host name/,
    );
  });
});

describe('rebootNodes', () => {
  it('takes the address from `ip` (else the host name) and bmc from the `bmc` variable of the nodes table', async () => {
    const repo = await copyFixtureRepo();
    try {
      await writeFile(
        path.join(repo.root, 'pxeforge.yaml'),
        [
          'nodes:',
          '  cn[001-002]: { mac: "52:54:00:00:10:{n:02x}", ip: "10.1.0.{n}/16", bmc: "10.2.0.{n}" }',
          '  cn003: "52:54:00:00:10:03"',
          'nodeGroups:',
          '  compute: { image: base, channel: production, hosts: ["cn[001-003]"], macs: ["52:54:00:00:10:99"] }',
          '',
        ].join('\n'),
      );
      const { site, problems } = await loadSiteTree(recipeRepo(repo.root));
      expect(problems).toEqual([]);
      expect(rebootNodes(site!, site!.nodeGroups[0]!.members)).toEqual([
        { host: undefined, mac: '52:54:00:00:10:99', address: undefined, bmc: undefined },
        { host: 'cn001', mac: '52:54:00:00:10:01', address: '10.1.0.1', bmc: '10.2.0.1' },
        { host: 'cn002', mac: '52:54:00:00:10:02', address: '10.1.0.2', bmc: '10.2.0.2' },
        { host: 'cn003', mac: '52:54:00:00:10:03', address: 'cn003', bmc: undefined },
      ]);
    } finally {
      await repo.remove();
    }
  });
});

describe('runReboots (real processes)', () => {
  let dir: string;
  let recorder: string;
  let log: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-reboot-'));
    log = path.join(dir, 'argv.log');
    recorder = path.join(dir, 'record-argv.cjs');
    await writeFile(
      recorder,
      `#!/usr/bin/env node\nrequire('node:fs').appendFileSync(${JSON.stringify(log)}, JSON.stringify(process.argv.slice(2)) + '\\n');\nconsole.log('rebooting', process.argv[2]);\n`,
    );
    await chmod(recorder, 0o755);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const never = new AbortController().signal;

  it('runs each command with its argv as given: no shell ever sees a value', async () => {
    const owned = path.join(dir, 'owned');
    const bmc = `10.2.0.9; touch ${owned}; $(touch ${owned}) \`touch ${owned}\``;
    const commands = [
      ...renderReboot([recorder, '{bmc}', 'power cycle'], [node(1), node(9, { bmc })]),
      ...renderReboot([recorder, '{hosts}'], [node(2), node(3)]),
    ];
    const outcomes = await runReboots(commands, { timeoutMs: 10_000, signal: never, parallel: 1 });
    expect(outcomes.map(({ ok, exitCode, problem }) => ({ ok, exitCode, problem }))).toEqual([
      { ok: true, exitCode: 0, problem: undefined },
      { ok: true, exitCode: 0, problem: undefined },
      { ok: true, exitCode: 0, problem: undefined },
    ]);
    expect(outcomes[2]).toMatchObject({ macs: ['52:54:00:00:10:02', '52:54:00:00:10:03'], output: 'rebooting cn002,cn003\n' });
    const recorded = (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(recorded).toEqual([['10.2.0.1', 'power cycle'], [bmc, 'power cycle'], ['cn002,cn003']]);
    await expect(readFile(owned)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a failing command, a missing program and a printing one: outcomes say why, output is kept as text and capped', async () => {
    const outcomes = await runReboots(
      [
        { argv: ['sh', '-c', 'printf "no route to \\033]0;owned\\007bmc\\n" >&2; exit 3'], macs: ['a'] },
        { argv: [path.join(dir, 'no-such-program'), 'x'], macs: ['b'] },
        { argv: ['sh', '-c', 'head -c 100000 /dev/zero | tr "\\0" x'], macs: ['c'] },
      ],
      { timeoutMs: 10_000, signal: never },
    );
    expect(outcomes[0]).toMatchObject({ ok: false, exitCode: 3, problem: 'exit status 3' });
    expect(outcomes[0]!.output).toBe('no route to \u001b]0;owned\u0007bmc\n');
    expect(printable(outcomes[0]!.output)).toBe('no route to \\x1b]0;owned\\x07bmc\\n');
    expect(outcomes[1]).toMatchObject({ ok: false, problem: 'the reboot program is not installed (or not on PATH)' });
    expect(outcomes[2]).toMatchObject({ ok: true, exitCode: 0 });
    expect(outcomes[2]!.output.startsWith('x'.repeat(maxRebootOutput))).toBe(true);
    expect(outcomes[2]!.output.length).toBeLessThan(maxRebootOutput + 40);
  });

  it('a command that runs past its timeout is ended, with everything it started', async () => {
    const pidFile = path.join(dir, 'hang.pid');
    const started = Date.now();
    const [outcome] = await runReboots([{ argv: ['sh', '-c', `echo started; sleep 60 & echo $! > ${pidFile}; wait`], macs: ['a'] }], {
      timeoutMs: 700,
      signal: never,
    });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(outcome).toMatchObject({ ok: false, problem: 'no end within 0.7 s (stopped)', output: 'started\n' });
    expect(await gone(Number(await readFile(pidFile, 'utf8')))).toBe(true);
  });

  it('abort ends every command still running', async () => {
    const controller = new AbortController();
    const pids = [1, 2, 3].map((n) => path.join(dir, `abort-${n}.pid`));
    const running = runReboots(
      pids.map((pidFile, index) => ({ argv: ['sh', '-c', `sleep 60 & echo $! > ${pidFile}; wait`], macs: [String(index)] })),
      { timeoutMs: 60_000, signal: controller.signal },
    );
    await sleep(500);
    const started = Date.now();
    controller.abort();
    const outcomes = await running;
    expect(Date.now() - started).toBeLessThan(4000);
    expect(outcomes.map((outcome) => outcome.problem)).toEqual(['stopped', 'stopped', 'stopped']);
    for (const pidFile of pids) expect(await gone(Number(await readFile(pidFile, 'utf8')))).toBe(true);
    // After the abort nothing more is started.
    const [late] = await runReboots([{ argv: [recorder, 'late'], macs: ['z'] }], { timeoutMs: 1000, signal: controller.signal });
    expect(late).toMatchObject({ ok: false, problem: 'stopped before it ran' });
  });
});

/** Whether a process has ended (gone, or a zombie waiting to be reaped), within two seconds. */
async function gone(pid: number): Promise<boolean> {
  for (let tries = 0; tries < 40; tries += 1) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined || /\) Z /.test(stat)) return true;
    await sleep(50);
  }
  return false;
}
