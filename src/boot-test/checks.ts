import { getFormat } from '../formats/registry.js';
import { bootRecordPath, parseBootRecord, type BootRecord } from '../nodes/boot-record.js';
import { checkPatternError, compileCheckPattern } from '../recipe/check-pattern.js';
import type { RecipeCheck } from '../recipe/schema.js';
import type { SshSession } from './ssh.js';

export interface CheckResult {
  name: string;
  builtin: boolean;
  command: string;
  passed: boolean;
  exitCode: number | null;
  output: string;
  durationMs: number;
  /** Why it failed, in words. */
  reason?: string;
}

export interface CheckSpec extends RecipeCheck {
  builtin?: boolean;
  /** For built-in checks: judge the output beyond exit code and expect/match. */
  judge?: (output: string) => string | undefined;
}

/**
 * The checks every image gets unless the recipe opts out (`tests.boot.builtinChecks: false`).
 * `otherHostKeys` are the SSH host keys seen in earlier boots of the same version. A node
 * whose group has pxeforge-managed host keys must present exactly `managedHostKey` (the same
 * at every boot, so earlier boots do not count); its machine-id is still made at boot.
 */
export function builtinChecks(
  format: string,
  session: SshSession,
  otherHostKeys: readonly string[],
  managedHostKey?: string,
  booted?: BootedExpectation,
): CheckSpec[] {
  return [
    {
      builtin: true,
      name: 'built-in: systemd reached multi-user.target with no failed units',
      run: 'systemctl is-system-running --wait >/dev/null; systemctl is-active multi-user.target; systemctl --failed --no-legend --plain --no-pager',
      timeout: 120,
      judge: (output) => {
        const [target, ...failed] = output
          .trim()
          .split('\n')
          .filter((line) => line.trim() !== '');
        if (target !== 'active') return `multi-user.target is ${target ?? 'unknown'}`;
        return failed.length > 0 ? `failed units: ${failed.map((line) => line.trim().split(/\s+/)[0]).join(', ')}` : undefined;
      },
    },
    { builtin: true, ...getFormat(format).rootCheck },
    {
      builtin: true,
      name:
        managedHostKey === undefined
          ? 'built-in: this node made its own identity at boot'
          : 'built-in: this node presents its managed SSH host key and made its machine-id at boot',
      run: 'cat /etc/machine-id; ls /etc/ssh/ssh_host_ed25519_key /etc/ssh/ssh_host_rsa_key',
      judge: (output) => {
        const [machineId] = output.trim().split('\n');
        if (!/^[0-9a-f]{32}$/.test(machineId ?? '')) return `machine-id is \`${machineId ?? ''}\`, not one made at boot`;
        if (managedHostKey !== undefined)
          return session.hostKey === managedHostKey
            ? undefined
            : `SSH host key ${session.hostKey} is not the node's managed key ${managedHostKey}`;
        if (otherHostKeys.includes(session.hostKey))
          return `SSH host key ${session.hostKey} was already seen in another boot of this image`;
        return undefined;
      },
    },
    ...(booted === undefined ? [] : [bootRecordCheck(format, booted)]),
  ];
}

/** What the node was booted with, for the boot record check: the version tested, and the tree's generation when booted through it. */
export interface BootedExpectation {
  image: string;
  version: string;
  tree?: { generation: number; group: string; channel: string; nodeArchive: { sha256: string } | undefined };
}

/**
 * The node's boot record names what it booted: the image and version tested, through the
 * tree also the generation, group, channel and node archive; a root the format fetches was
 * verified by the initrd before it was mounted.
 */
export function bootRecordCheck(format: string, booted: BootedExpectation): CheckSpec {
  const fetched = getFormat(format).rootUrlArtifact !== undefined;
  return {
    builtin: true,
    name: `built-in: the boot record names what the node booted${fetched ? ', its root verified before it was mounted' : ''}`,
    run: `cat ${bootRecordPath}`,
    judge: (output) => {
      const parsed = parseBootRecord(output);
      if ('problem' in parsed) return `${bootRecordPath} is not a boot record: ${parsed.problem}`;
      const record = parsed.record;
      const expected: Partial<Record<keyof BootRecord, unknown>> = {
        image: booted.image,
        version: booted.version,
        ...(booted.tree === undefined
          ? {}
          : {
              generation: booted.tree.generation,
              group: booted.tree.group,
              channel: booted.tree.channel,
              nodeFiles: booted.tree.nodeArchive === undefined ? null : { sha256: booted.tree.nodeArchive.sha256 },
            }),
      };
      for (const [field, value] of Object.entries(expected)) {
        const got = record[field as keyof BootRecord];
        if (JSON.stringify(got) !== JSON.stringify(value)) return `${field} is ${JSON.stringify(got)}, not ${JSON.stringify(value)}`;
      }
      if (fetched && record.root.verified !== true)
        return `the root was not verified before it was mounted (root.verified: ${JSON.stringify(record.root.verified)})`;
      if (!fetched && record.root.verified !== null)
        return `root.verified is ${JSON.stringify(record.root.verified)} for a root the node does not fetch`;
      return undefined;
    },
  };
}

export async function runCheck(session: SshSession, check: CheckSpec): Promise<CheckResult> {
  const started = performance.now();
  const timeoutMs = (check.timeout ?? 60) * 1000;
  const result = await session.exec(check.run, timeoutMs);
  const output = (result.stdout + (result.stderr === '' ? '' : `\n${result.stderr}`)).trim();
  const base = {
    name: check.name,
    builtin: check.builtin === true,
    command: check.run,
    exitCode: result.exitCode,
    output,
    durationMs: Math.round(performance.now() - started),
  };
  const reason = failure(check, result, output);
  return reason === undefined ? { ...base, passed: true } : { ...base, passed: false, reason };
}

function failure(
  check: CheckSpec,
  result: { stdout: string; exitCode: number | null; timedOut: boolean },
  output: string,
): string | undefined {
  if (result.timedOut) return `no result within ${check.timeout ?? 60} s`;
  const expectedExit = check.exit ?? 0;
  if (check.judge === undefined && result.exitCode !== expectedExit)
    return `exit status ${result.exitCode ?? 'none (killed)'}, expected ${expectedExit}`;
  const stdout = result.stdout.trim();
  if (check.expect !== undefined && stdout !== check.expect.trim())
    return `output \`${excerpt(stdout)}\`, expected \`${check.expect.trim()}\``;
  const patternError = check.match === undefined ? undefined : checkPatternError(check.match);
  if (patternError !== undefined) return `pattern /${check.match}/ cannot run (RE2): ${patternError}`;
  if (check.match !== undefined && !compileCheckPattern(check.match).test(stdout))
    return `output \`${excerpt(stdout)}\` does not match /${check.match}/`;
  return check.judge?.(output);
}

/** One line of output for a reason; the whole output is in the report. */
function excerpt(text: string): string {
  const [first = ''] = text.split('\n');
  const more = text.includes('\n') ? ' …' : '';
  return first.length > 80 ? `${first.slice(0, 77)}...` : `${first}${more}`;
}
