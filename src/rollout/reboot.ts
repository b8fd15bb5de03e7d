import { execa } from 'execa';

import { invalidInput } from '../errors/user-error.js';
import { killGroup, trackGroup } from '../exec/children.js';
import { eachLimited } from '../progress/each-limited.js';
import { isWaveTemplate, type PerNodePlaceholder, templateParts } from '../site/reboot-template.js';
import type { SiteTree } from '../site/site-config.js';

/** A node to reboot, with the values the reboot template may name. */
export interface RebootNode {
  host: string | undefined;
  /** Lowercase, colon-separated. */
  mac: string;
  address: string | undefined;
  /** The node's `bmc` variable of the `nodes` table. */
  bmc: string | undefined;
}

/** One reboot command and the nodes (MACs) it reboots. */
export interface RebootCommand {
  argv: string[];
  macs: string[];
}

export interface RebootOutcome extends RebootCommand {
  /** The command ran and exited with 0. */
  ok: boolean;
  exitCode: number | null;
  /** What it printed (stdout and stderr interleaved), at most `maxRebootOutput` bytes. Never print it raw: escape with `printable`. */
  output: string;
  /** Why it did not succeed, in pxeforge's words. */
  problem?: string;
}

/** The most of a reboot command's output kept. */
export const maxRebootOutput = 4096;

/** How many reboot commands run at once (one per node with per-node templates). */
export const defaultRebootParallel = 16;

/** How long a stopped reboot command gets between SIGTERM and SIGKILL. */
const killGraceMs = 2000;

const describeValue: Record<PerNodePlaceholder, string> = {
  host: 'host name (it is a member by MAC only)',
  address: 'address (no `ip` in the `nodes` table)',
  mac: 'MAC',
  bmc: '`bmc` variable in the `nodes` table',
};

/**
 * The commands that reboot `nodes`: one per node, or one for all of them with `{hosts}` (the
 * host names joined with commas, as one argument). Each element of the template stays one
 * argument whatever a value holds: nothing here is ever given to a shell.
 */
export function renderReboot(template: readonly string[], nodes: readonly RebootNode[]): RebootCommand[] {
  if (nodes.length === 0) return [];
  if (isWaveTemplate(template)) {
    const nameless = nodes.find((node) => node.host === undefined);
    if (nameless !== undefined)
      throw invalidInput(
        'REBOOT_TEMPLATE',
        `the reboot command names {hosts}, but node ${nameless.mac} has no host name (it is a member by MAC only)`,
        'name the node in the `nodes` table and its group by `hosts`, or use a per-node reboot command ({mac}, {address}, {bmc})',
      );
    const hosts = nodes.map((node) => node.host!).join(',');
    return [{ argv: template.map((element) => fill(element, () => hosts)), macs: nodes.map((node) => node.mac) }];
  }
  return nodes.map((node) => ({
    argv: template.map((element) =>
      fill(element, (name) => {
        const value = name === 'hosts' ? undefined : node[name as PerNodePlaceholder];
        if (value === undefined || value === '')
          throw invalidInput(
            'REBOOT_TEMPLATE',
            `the reboot command names {${name}}, but node ${node.host ?? node.mac} has no ${describeValue[name as PerNodePlaceholder] ?? name}`,
            name === 'bmc' ? `add \`bmc: <address>\` to ${node.host ?? 'the node'} in the \`nodes\` table` : undefined,
          );
        return value;
      }),
    ),
    macs: [node.mac],
  }));
}

function fill(element: string, value: (name: string) => string): string {
  return templateParts(element)
    .map((part) => ('text' in part ? part.text : value(part.placeholder)))
    .join('');
}

/**
 * Runs reboot commands, at most `parallel` at once, each in its own process group with no
 * shell and no stdin, for at most `timeoutMs`. A command that runs too long, and every command
 * still running when `signal` aborts, is ended with everything it started. Never throws for
 * a command that fails: its outcome says why.
 */
export async function runReboots(
  commands: readonly RebootCommand[],
  options: { timeoutMs: number; signal: AbortSignal; parallel?: number },
): Promise<RebootOutcome[]> {
  const outcomes: RebootOutcome[] = new Array(commands.length);
  await eachLimited([...commands.keys()], options.parallel ?? defaultRebootParallel, async (index) => {
    outcomes[index] = await runReboot(commands[index]!, options);
  });
  return outcomes;
}

async function runReboot(command: RebootCommand, options: { timeoutMs: number; signal: AbortSignal }): Promise<RebootOutcome> {
  const base = { argv: command.argv, macs: command.macs };
  const [file, ...args] = command.argv;
  if (file === undefined) return { ...base, ok: false, exitCode: null, output: '', problem: 'the reboot command is empty' };
  if (options.signal.aborted) return { ...base, ok: false, exitCode: null, output: '', problem: 'stopped before it ran' };
  const child = execa(file, args, {
    shell: false,
    stdin: 'ignore',
    all: true,
    buffer: false,
    detached: true,
    cleanup: false,
    reject: false,
  });
  const untrack = child.pid === undefined ? () => false : trackGroup(child.pid);
  const chunks: Buffer[] = [];
  let kept = 0;
  let cut = false;
  child.all?.on('data', (chunk: Buffer) => {
    if (kept >= maxRebootOutput) {
      cut = true;
      return;
    }
    const part = chunk.subarray(0, maxRebootOutput - kept);
    if (part.length < chunk.length) cut = true;
    chunks.push(part);
    kept += part.length;
  });
  let ended: 'timeout' | 'stopped' | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const stop = (why: 'timeout' | 'stopped') => {
    if (ended !== undefined || child.pid === undefined) return;
    ended = why;
    killGroup(child.pid, 'SIGTERM');
    killTimer = setTimeout(() => killGroup(child.pid!, 'SIGKILL'), killGraceMs);
  };
  const onAbort = () => stop('stopped');
  const timer = setTimeout(() => stop('timeout'), options.timeoutMs);
  options.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const result = await child;
    const output = Buffer.concat(chunks).toString('utf8') + (cut ? '\n[… output cut]' : '');
    const exitCode = result.exitCode ?? null;
    if (ended === 'timeout')
      return {
        ...base,
        ok: false,
        exitCode,
        output,
        problem: `no end within ${Number((options.timeoutMs / 1000).toFixed(1))} s (stopped)`,
      };
    if (ended === 'stopped') return { ...base, ok: false, exitCode, output, problem: 'stopped' };
    const code = (result as { code?: string }).code;
    if (code === 'ENOENT') return { ...base, ok: false, exitCode, output, problem: 'the reboot program is not installed (or not on PATH)' };
    if (result.signal !== undefined) return { ...base, ok: false, exitCode, output, problem: `killed by ${result.signal}` };
    if (exitCode !== 0)
      return { ...base, ok: false, exitCode, output, problem: exitCode === null ? 'it did not run' : `exit status ${exitCode}` };
    return { ...base, ok: true, exitCode, output };
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener('abort', onAbort);
    // Children the command left behind in its group go with it.
    if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
    if (killTimer !== undefined) clearTimeout(killTimer);
    untrack();
  }
}

/** The reboot values of node group members: address from the `nodes` table's `ip` (else the host name), bmc from its `bmc` variable. */
export function rebootNodes(
  site: Pick<SiteTree, 'nodeConfig'>,
  members: readonly { mac: string; host?: string | undefined }[],
): RebootNode[] {
  const table = new Map((site.nodeConfig?.nodes ?? []).map((node) => [node.host, node]));
  return members.map((member) => {
    const node = member.host === undefined ? undefined : table.get(member.host);
    const bmc = node?.vars.bmc;
    return {
      host: member.host,
      mac: member.mac,
      address: node?.ip?.split('/')[0] ?? member.host,
      bmc: bmc === undefined ? undefined : String(bmc),
    };
  });
}
