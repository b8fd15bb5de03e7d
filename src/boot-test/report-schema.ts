import { z } from 'zod';

import { artifactSchema } from '../store/manifest-schema.js';
import { bootPhases } from './console-watch.js';

/** test-report.json (contract in docs/boot-testing.md), as pxeforge reads it back; the types derive from it. */
export const testReportSchemaVersion = 1;

const bootPhase = z.enum(bootPhases);

export const checkResultSchema = z.object({
  name: z.string(),
  builtin: z.boolean(),
  command: z.string(),
  passed: z.boolean(),
  exitCode: z.int().nullable(),
  output: z.string(),
  durationMs: z.number(),
  /** Why it failed, in words. */
  reason: z.string().optional(),
});

export const fetchRecordSchema = z.object({
  path: z.string(),
  range: z.string().optional(),
  status: z.int(),
  at: z.string(),
});

/** test-report.json: what was booted (by digest), how, and what every check found. */
export const testReportSchema = z.object({
  schemaVersion: z.literal(testReportSchemaVersion),
  name: z.string(),
  version: z.string(),
  via: z.enum(['direct', 'pxe']),
  /** Set when the node booted from the promoted PXE tree (`test --via pxe --channel`); `node`: the member's host name, when known. */
  tree: z
    .object({
      channel: z.string(),
      generation: z.int(),
      group: z.string(),
      mac: z.string(),
      node: z.string().optional(),
      entry: z.string(),
    })
    .optional(),
  passed: z.boolean(),
  startedAt: z.string(),
  durationMs: z.number(),
  /** sha256 of the artifacts as booted: promotion compares these with the artifacts it places. */
  artifacts: z.record(z.string(), artifactSchema),
  kernel: z.string(),
  qemu: z.object({
    version: z.string(),
    accel: z.enum(['kvm', 'tcg']),
    memoryMiB: z.number(),
    cpus: z.number(),
    argv: z.array(z.string()),
  }),
  /** Milliseconds from QEMU start to each boot phase reached. */
  phases: z.partialRecord(bootPhase, z.number()),
  failure: z.object({ phase: bootPhase, reason: z.string(), consoleTail: z.array(z.string()) }).optional(),
  checks: z.array(checkResultSchema),
  hostKey: z.string().optional(),
  fetched: z.array(fetchRecordSchema),
  consoleLog: z.string(),
});
export type TestReport = z.infer<typeof testReportSchema>;

export const testReportRecord = { what: 'test report', schema: testReportSchema, schemaVersion: testReportSchemaVersion };
