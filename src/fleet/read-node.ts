import { type BootRecord, bootRecordPath, parseBootRecord } from '../nodes/boot-record.js';
import { formatSeconds, type NodeTarget, openNodeSession } from './node-session.js';

export type { NodeTarget } from './node-session.js';

/** The most a node may answer: a boot record is a few hundred bytes. */
export const maxRecordBytes = 64 * 1024;

/**
 * What reading one node gave: its record; or a node that answered but whose record is missing
 * or not valid (`record` problem); or a node that could not be read at all (`unreachable`).
 * Reasons are pxeforge's own words; nothing the node sent is in them.
 */
export type NodeReading =
  | { kind: 'record'; record: BootRecord }
  | { kind: 'bad record'; problem: string }
  | { kind: 'unreachable'; problem: string };

/**
 * Reads a node's boot record over SSH (`cat /run/pxeforge/boot.json`). The host key must be
 * one of `hostKeys`: an unknown key ends the handshake before authentication. Everything
 * (connect, handshake, command) ends by `timeoutMs` or when `signal` aborts; the connection
 * is always torn down.
 */
export async function readNode(target: NodeTarget): Promise<NodeReading> {
  const deadline = Date.now() + target.timeoutMs;
  const opened = await openNodeSession(target);
  if ('problem' in opened) return { kind: 'unreachable', problem: opened.problem };
  const { session } = opened;
  try {
    const result = await session.run(`cat ${bootRecordPath}`, {
      timeoutMs: Math.max(deadline - Date.now(), 1),
      maxBytes: maxRecordBytes,
      stopAtLimit: true,
    });
    if (result.timedOut) return { kind: 'unreachable', problem: `no answer within ${formatSeconds(target.timeoutMs)}` };
    if (result.truncated) return { kind: 'bad record', problem: `the boot record is larger than ${maxRecordBytes} bytes` };
    if (result.problem !== undefined) return { kind: 'unreachable', problem: result.problem };
    if (result.exitCode !== 0)
      return {
        kind: 'bad record',
        problem: `no boot record (\`cat ${bootRecordPath}\` exited with ${result.exitCode ?? 'a signal'})`,
      };
    const parsed = parseBootRecord(result.stdout);
    return 'record' in parsed ? { kind: 'record', record: parsed.record } : { kind: 'bad record', problem: recordProblem(parsed.problem) };
  } finally {
    session.close();
  }
}

function recordProblem(problem: string): string {
  return problem === 'not valid JSON' ? 'the boot record is not valid JSON' : `the boot record is not valid (${problem})`;
}
