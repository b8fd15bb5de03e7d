import { type CheckSpec, runCheck } from '../boot-test/checks.js';
import { type NodeTarget, openNodeSession } from '../fleet/node-session.js';

/** The most of a failed check's output a result keeps. */
export const maxCheckOutput = 4096;

export type NodeHealth = { ok: true } | { ok: false; check: string; output: string; reason: string };

/** The name a result gives when the node could not be reached at all. */
export const connectCheckName = 'ssh: connect to the node';

/**
 * Runs `checks` in order over one SSH session to the node, and stops at the first that fails.
 * A node that cannot be reached, or presents a host key it may not, fails with that reason
 * (before any check runs). `output` is what the node printed, cut to `maxCheckOutput` bytes:
 * callers escape it (`printable`) before it reaches a terminal.
 */
export async function checkNode(target: NodeTarget, checks: readonly CheckSpec[], signal: AbortSignal): Promise<NodeHealth> {
  const opened = await openNodeSession({ ...target, signal });
  if ('problem' in opened) return { ok: false, check: connectCheckName, output: '', reason: opened.problem };
  const { session } = opened;
  try {
    for (const check of checks) {
      if (signal.aborted) return { ok: false, check: check.name, output: '', reason: 'stopped' };
      const result = await runCheck(session, check).catch((error: Error) => ({
        passed: false as const,
        output: '',
        reason: error.message,
      }));
      if (!result.passed) return { ok: false, check: check.name, output: cap(result.output), reason: result.reason ?? 'failed' };
    }
    return { ok: true };
  } finally {
    session.close();
  }
}

function cap(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxCheckOutput) return text;
  // Cut on a character boundary: a partial UTF-8 sequence at the end is dropped.
  return `${bytes
    .subarray(0, maxCheckOutput)
    .toString('utf8')
    .replace(/\uFFFD$/, '')}\n[… output cut]`;
}
