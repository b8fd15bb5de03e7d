import type { Writable } from 'node:stream';

import { z } from 'zod';

import { invalidInput } from '../../errors/user-error.js';
import { eventTypes, type PxeEvent } from '../../events/events.js';

/**
 * What pxeforge in a pod prints, one JSON object a line (`--json`): events, which the host
 * renders like a local run's, then one result line. Written by the worker, read by remote.ts.
 */

/** An event line: any object whose type is an event type (its fields are the event's). */
export const eventLine = z.looseObject({ type: z.enum(eventTypes) });

/** The last line of `k8s run-build`: the version it built. */
export const buildResultLine = z.object({ type: z.literal('result'), name: z.string(), version: z.string(), dir: z.string() });

/** What the host reads of it: the version (its directory is the host's own view of the shared store). */
export const builtVersion = buildResultLine.pick({ type: true, version: true });

/** The last line of `k8s run-test`: the verdict (the report itself is in the store). */
export const testResultLine = z.object({ type: z.literal('result'), name: z.string(), version: z.string(), passed: z.boolean() });

/** `--provenance` of `k8s run-build`: git provenance measured where the recipe repository is (the pod gets files, not the checkout). */
export const provenanceArgument = z.object({ commit: z.string().nullable(), dirty: z.boolean(), commitTime: z.number().nullable() });

/** Reads `--provenance`; anything else is a usage error of the pod command. */
export function parseProvenance(text: string): z.output<typeof provenanceArgument> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const checked = provenanceArgument.safeParse(value);
  if (!checked.success)
    throw invalidInput('BAD_OPTION', '--provenance takes {"commit": string|null, "dirty": boolean, "commitTime": number|null}');
  return checked.data;
}

export type BuildResultLine = z.output<typeof buildResultLine>;
export type TestResultLine = z.output<typeof testResultLine>;

/** A line the pod printed: an event, a result (anything of type `result`), or ordinary output. */
export type PodLine = { kind: 'event'; event: PxeEvent } | { kind: 'result'; value: Record<string, unknown> } | { kind: 'text' };

export function readPodLine(line: string): PodLine {
  if (!line.startsWith('{')) return { kind: 'text' };
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { kind: 'text' };
  }
  if (value !== null && typeof value === 'object' && (value as { type?: unknown }).type === 'result')
    return { kind: 'result', value: value as Record<string, unknown> };
  const event = eventLine.safeParse(value);
  return event.success ? { kind: 'event', event: event.data as PxeEvent } : { kind: 'text' };
}

export function writeBuildResult(output: Writable, result: Omit<BuildResultLine, 'type'>): void {
  const line: BuildResultLine = { type: 'result', name: result.name, version: result.version, dir: result.dir };
  output.write(`${JSON.stringify(line)}\n`);
}

export function writeTestResult(output: Writable, result: Omit<TestResultLine, 'type'>): void {
  const line: TestResultLine = { type: 'result', name: result.name, version: result.version, passed: result.passed };
  output.write(`${JSON.stringify(line)}\n`);
}
