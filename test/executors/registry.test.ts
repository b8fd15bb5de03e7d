import { describe, expect, it } from 'vitest';

import { eventTypes } from '../../src/events/events.js';
import { builtVersion, parseProvenance, readPodLine } from '../../src/executors/kubernetes/protocol.js';
import { executorKind, executors, getExecutor } from '../../src/executors/registry.js';
import { isUserError } from '../../src/errors/user-error.js';
import { recipeRepo } from '../../src/recipe/repo.js';
import { fixtureRepo } from '../helpers/cli.js';

describe('executor registry', () => {
  it('resolves every name to the executor of that name', async () => {
    expect(Object.keys(executors)).toEqual(['local', 'kubernetes']);
    for (const [name, kind] of Object.entries(executors)) {
      expect(executorKind(name)).toBe(kind);
      expect(kind.name).toBe(name);
    }
    const site = { file: 'pxeforge.yaml', store: '/s', cache: '/c', work: '/c/work', mirror: 'host' };
    const local = await getExecutor('local', { repo: recipeRepo(fixtureRepo), site, useCache: true, signal: new AbortController().signal });
    expect(local.name).toBe('local');
  });

  it('an unknown name is a usage error naming the executors there are', () => {
    let error: unknown;
    try {
      executorKind('slurm');
    } catch (caught) {
      error = caught;
    }
    expect(isUserError(error) && error.code).toBe('UNKNOWN_EXECUTOR');
    expect((error as Error).message).toBe('executor `slurm` is not available');
    expect((error as { hint?: string }).hint).toBe('use --executor local or --executor kubernetes');
    expect(() => executorKind('toString')).toThrow('executor `toString` is not available');
  });

  it('kubernetes without a kubernetes section says so', async () => {
    const site = { file: 'pxeforge.yaml', store: '/s', cache: '/c', work: '/c/work', mirror: 'host' };
    await expect(
      getExecutor('kubernetes', { repo: recipeRepo(fixtureRepo), site, useCache: true, signal: new AbortController().signal }),
    ).rejects.toThrow('pxeforge.yaml has no `kubernetes` section');
  });
});

describe('pod protocol', () => {
  it('reads events of every type, results and ordinary lines', () => {
    for (const type of eventTypes) expect(readPodLine(JSON.stringify({ type, message: 'm' })).kind).toBe('event');
    expect(readPodLine('{"type":"nonsense"}')).toEqual({ kind: 'text' });
    expect(readPodLine('{not json')).toEqual({ kind: 'text' });
    expect(readPodLine('null')).toEqual({ kind: 'text' });
    expect(readPodLine('{"type":"result","version":"v1"}')).toEqual({ kind: 'result', value: { type: 'result', version: 'v1' } });
    expect(builtVersion.safeParse({ type: 'result', name: 'a' }).success).toBe(false);
  });

  it('reads --provenance of run-build, and refuses anything else as a usage error', () => {
    expect(parseProvenance('{"commit":"abc","dirty":false,"commitTime":1700000000}')).toEqual({
      commit: 'abc',
      dirty: false,
      commitTime: 1700000000,
    });
    expect(parseProvenance('{"commit":null,"dirty":true,"commitTime":null}')).toEqual({ commit: null, dirty: true, commitTime: null });
    for (const bad of ['{', '{"commit":"abc"}', '"x"']) {
      expect(() => parseProvenance(bad)).toThrow(expect.objectContaining({ code: 'BAD_OPTION', exitCode: 2 }));
    }
  });
});
