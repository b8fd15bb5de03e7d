import { readFile } from 'node:fs/promises';

import type { z } from 'zod';

import { UserError } from '../errors/user-error.js';
import { version as pxeforgeVersion } from '../version.js';

/** How a record file that is not what its schema says is reported (the default: DAMAGED_RECORD). */
export type DamagedError = (message: string) => UserError;

export interface RecordKind<T> {
  /** What the file is, in words: `manifest`, `test report`, `tree state`. */
  what: string;
  schema: z.ZodType<T>;
  /** The schemaVersion this pxeforge reads and writes. */
  schemaVersion: number;
  damaged?: DamagedError;
  /** Parts with a schemaVersion of their own (e.g. the recipe snapshot of a manifest): field → the version this pxeforge reads. */
  parts?: Record<string, number>;
}

/**
 * Reads one JSON record pxeforge wrote (manifest.json, test-report.json, state.json) through
 * its schema. Errors name the file and the field: DAMAGED_RECORD for text that is not JSON or
 * not of the record's shape; UNSUPPORTED_SCHEMA_VERSION for a schemaVersion this pxeforge
 * does not read (a newer pxeforge wrote it).
 */
export async function readRecord<T>(file: string, kind: RecordKind<T>): Promise<T> {
  return parseRecord(file, await readFile(file, 'utf8'), kind);
}

/** `readRecord` for text already read (callers that handle a missing file themselves). */
export function parseRecord<T>(file: string, text: string, kind: RecordKind<T>): T {
  const damaged =
    kind.damaged ??
    ((message: string) =>
      new UserError('DAMAGED_RECORD', message, {
        hint: `pxeforge wrote this file and never changes it by hand; restore it from a backup, or rebuild (or re-run) what wrote it`,
      }));
  const parsed = parseJson(text);
  if (parsed === notJson) throw damaged(`${file} is not valid JSON`);
  checkVersion(file, kind.what, (parsed as { schemaVersion?: unknown } | null)?.schemaVersion, kind.schemaVersion);
  for (const [field, supported] of Object.entries(kind.parts ?? {})) {
    const part = (parsed as Record<string, { schemaVersion?: unknown } | null> | null)?.[field];
    checkVersion(file, `${kind.what} field ${field}`, part?.schemaVersion, supported);
  }
  const checked = checkShape(parsed, kind.schema);
  if ('value' in checked) return checked.value;
  throw damaged(`${file} is not a ${kind.what}: ${checked.problem}`);
}

/**
 * A JSON record read leniently (the report shows what it can): the value, or what is wrong
 * with the text in words (`not valid JSON`, `<field>: <what the schema says>`). Never throws.
 */
export function checkRecordText<T>(text: string, schema: z.ZodType<T>): { value: T } | { problem: string } {
  const parsed = parseJson(text);
  return parsed === notJson ? { problem: 'not valid JSON' } : checkShape(parsed, schema);
}

const notJson = Symbol('not JSON');

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return notJson;
  }
}

function checkShape<T>(parsed: unknown, schema: z.ZodType<T>): { value: T } | { problem: string } {
  const checked = schema.safeParse(parsed);
  if (checked.success) return { value: checked.data };
  const issue = checked.error.issues[0];
  return { problem: `${fieldName(issue?.path ?? [])}: ${issue?.message ?? 'invalid'}` };
}

function fieldName(at: readonly PropertyKey[]): string {
  return at.length === 0 ? '(the whole file)' : at.map(String).join('.');
}

/** A schemaVersion other than the one this pxeforge reads (absent: written before it was recorded, read as it). */
function checkVersion(file: string, what: string, found: unknown, supported: number): void {
  if (found === undefined || found === supported) return;
  const newer = typeof found === 'number' && found > supported;
  throw new UserError(
    'UNSUPPORTED_SCHEMA_VERSION',
    `${file}: ${what} has schemaVersion ${JSON.stringify(found)}; this pxeforge (${pxeforgeVersion}) reads schemaVersion ${supported}${newer ? ': a newer pxeforge wrote it' : ''}`,
    {
      hint: newer
        ? 'read it with the pxeforge version that wrote it (or a newer one), or upgrade pxeforge'
        : 'no pxeforge writes this schemaVersion: the file was changed by hand',
    },
  );
}
