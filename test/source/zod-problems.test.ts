import { describe, expect, it } from 'vitest';
import { z } from 'zod';

import { formatProblem } from '../../src/errors/problems.js';
import { parseYamlText, type YamlDocument } from '../../src/source/yaml-document.js';
import { checkSchema } from '../../src/source/zod-problems.js';

/** The problems for `text` against `schema`, one formatted line each, as `validate` prints them. */
function problems(schema: z.ZodType, text: string): string[] {
  const loaded = parseYamlText(text, 'site.yaml');
  if (!loaded.ok) throw new Error('fixture does not parse');
  const checked = checkSchema(schema, loaded.document);
  if (checked.ok) throw new Error('fixture passes the schema');
  return checked.problems.map(formatProblem);
}

const settings = z.strictObject({
  name: z.string().min(2).max(8),
  port: z.int().min(1).max(65535).optional(),
  ratio: z.number().optional(),
  enabled: z.boolean().optional(),
  tags: z.array(z.string()).min(1).max(2).optional(),
  mode: z.enum(['fast', 'safe', 'paranoid']).optional(),
  level: z.literal([1, 2, 3]).optional(),
  mirror: z.url({ protocol: /^https?$/ }).optional(),
  release: z
    .string()
    .regex(/^[a-z]+$/, { error: 'is not a release name' })
    .optional(),
  users: z.array(z.strictObject({ name: z.string(), shell: z.string().optional() })).optional(),
  nodes: z.record(z.string(), z.strictObject({ mac: z.string(), ip: z.string().optional() })).default({}),
  tftp: z.strictObject({ root: z.string(), port: z.int().optional() }).nullable().optional(),
  http: z.strictObject({ url: z.string(), timeout: z.int().optional() }).prefault({ url: 'x' }),
  cache: z
    .strictObject({ dir: z.string() })
    .transform((value) => value.dir)
    .optional(),
  tuple: z.tuple([z.strictObject({ only: z.string() })]).optional(),
  nothing: z.undefined().optional(),
});

describe('checkSchema', () => {
  it('returns the parsed value when the document fits', () => {
    const loaded = parseYamlText('name: ok\nport: 22\n', 'site.yaml');
    expect(loaded.ok && checkSchema(settings, loaded.document)).toStrictEqual({
      ok: true,
      value: { name: 'ok', port: 22, nodes: {}, http: { url: 'x' } },
    });
  });

  it('names unknown keys at the key, suggesting the nearest known one or listing them', () => {
    expect(problems(settings, 'name: ok\nprot: 22\nzzzzzzzzzz: 1\n')).toMatchInlineSnapshot(`
      [
        "site.yaml:2:1: prot: unknown key \`prot\`
          hint: did you mean \`port\`?",
        "site.yaml:3:1: zzzzzzzzzz: unknown key \`zzzzzzzzzz\`
          hint: allowed keys here: name, port, ratio, enabled, tags, mode, level, mirror, release, users, nodes, tftp, http, cache, tuple, nothing",
      ]
    `);
  });

  it('finds the known keys through lists, records, nullable, prefault, defaults and transforms', () => {
    expect(
      problems(
        settings,
        [
          'name: ok',
          'users: [{ name: a, shel: /bin/sh }]',
          'nodes: { cn1: { mac: "52:54:00:00:00:01", ipp: 10.0.0.1 } }',
          'tftp: { rot: /srv/tftp }',
          'http: { url: x, timout: 5 }',
          'cache: { dri: /var/cache }',
          'tuple: [{ only: x, extra: 1 }]',
          '',
        ].join('\n'),
      ),
    ).toMatchInlineSnapshot(`
      [
        "site.yaml:2:20: users[0].shel: unknown key \`shel\`
          hint: did you mean \`shell\`?",
        "site.yaml:3:43: nodes.cn1.ipp: unknown key \`ipp\`
          hint: did you mean \`ip\`?",
        "site.yaml:4:7: tftp.root: missing required field \`root\`",
        "site.yaml:4:9: tftp.rot: unknown key \`rot\`
          hint: did you mean \`root\`?",
        "site.yaml:5:17: http.timout: unknown key \`timout\`
          hint: did you mean \`timeout\`?",
        "site.yaml:6:8: cache.dir: missing required field \`dir\`",
        "site.yaml:6:10: cache.dri: unknown key \`dri\`
          hint: allowed keys here: dir",
        "site.yaml:7:20: tuple[0].extra: unknown key \`extra\`",
      ]
    `);
  });

  it('reports a missing required field at its parent, with the full path', () => {
    expect(problems(settings, 'port: 22\nusers:\n  - shell: /bin/sh\n')).toMatchInlineSnapshot(`
      [
        "site.yaml:1:1: name: missing required field \`name\`",
        "site.yaml:3:5: users[0].name: missing required field \`name\`",
      ]
    `);
  });

  it('says what was expected and what it got, for every kind of value', () => {
    expect(
      problems(
        settings,
        [
          'name: [a, b]',
          'port: "22"',
          'ratio: {}',
          'enabled: ~',
          'mode: true',
          'tags: y',
          'users: 1.5',
          'tftp: "x"',
          'nothing: 1',
          '',
        ].join('\n'),
      ),
    ).toMatchInlineSnapshot(`
      [
        "site.yaml:1:7: name: expected a string, got a list",
        "site.yaml:2:7: port: expected a number, got \`22\`",
        "site.yaml:3:8: ratio: expected a number, got a mapping",
        "site.yaml:4:10: enabled: expected a boolean, got null (an empty value)",
        "site.yaml:5:7: mode: boolean true is not one of \`fast\`, \`safe\`, \`paranoid\`",
        "site.yaml:6:7: tags: expected a list, got \`y\`",
        "site.yaml:7:8: users: expected a list, got number 1.5",
        "site.yaml:8:7: tftp: expected a mapping, got \`x\`",
        "site.yaml:9:10: nothing: expected an undefined, got number 1",
      ]
    `);
  });

  it('says an integer was expected where a fraction was given', () => {
    expect(problems(settings, 'name: ok\nport: 1.5\n')).toMatchInlineSnapshot(`
      [
        "site.yaml:2:7: port: expected an integer, got number 1.5",
      ]
    `);
  });

  it('names the allowed values of an enum, suggesting the nearest', () => {
    expect(problems(settings, 'name: ok\nmode: fsat\n')).toMatchInlineSnapshot(`
      [
        "site.yaml:2:7: mode: \`fsat\` is not one of \`fast\`, \`safe\`, \`paranoid\`
          hint: did you mean \`fast\`?",
      ]
    `);
    expect(problems(settings, 'name: ok\nmode: reckless\n')).toMatchInlineSnapshot(`
      [
        "site.yaml:2:7: mode: \`reckless\` is not one of \`fast\`, \`safe\`, \`paranoid\`",
      ]
    `);
    expect(problems(settings, 'name: ok\nmode: 3\n')).toMatchInlineSnapshot(`
      [
        "site.yaml:2:7: mode: number 3 is not one of \`fast\`, \`safe\`, \`paranoid\`",
      ]
    `);
    expect(problems(settings, 'name: ok\nlevel: 4\n')).toMatchInlineSnapshot(`
      [
        "site.yaml:2:8: level: number 4 is not one of \`1\`, \`2\`, \`3\`",
      ]
    `);
  });

  it('explains URLs, and passes other format messages through', () => {
    expect(problems(settings, 'name: ok\nmirror: "ftp://mirror.example.org"\nrelease: Bookworm\n')).toMatchInlineSnapshot(`
      [
        "site.yaml:2:9: mirror: \`ftp://mirror.example.org\` is not an http:// or https:// URL",
        "site.yaml:3:10: release: is not a release name",
      ]
    `);
  });

  it('states both bounds of strings, lists and numbers, with what it got', () => {
    expect(problems(settings, 'name: a\nport: 0\ntags: []\n')).toMatchInlineSnapshot(`
      [
        "site.yaml:1:7: name: must be at least 2 characters long, got \`a\`",
        "site.yaml:2:7: port: must be at least 1, got number 0",
        "site.yaml:3:7: tags: must be at least 1 entries, got a list",
      ]
    `);
    expect(problems(settings, 'name: abcdefghi\nport: 65536\ntags: [a, b, c]\n')).toMatchInlineSnapshot(`
      [
        "site.yaml:1:7: name: must be at most 8 characters long, got \`abcdefghi\`",
        "site.yaml:2:7: port: must be at most 65535, got number 65536",
        "site.yaml:3:7: tags: must be at most 2 entries, got a list",
      ]
    `);
  });

  it('quotes long and control-laden input short and escaped', () => {
    expect(problems(settings, `name: ok\nmode: "${'x'.repeat(100)}"\n`)).toMatchInlineSnapshot(`
      [
        "site.yaml:2:7: mode: \`xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…\` is not one of \`fast\`, \`safe\`, \`paranoid\`",
      ]
    `);
    expect(problems(settings, 'name: ok\nmode: "a\\x1b[31mb"\n')).toMatchInlineSnapshot(`
      [
        "site.yaml:2:7: mode: \`a\\x1b[31mb\` is not one of \`fast\`, \`safe\`, \`paranoid\`",
      ]
    `);
  });

  it('reports the union branch that got furthest, at the right path', () => {
    const schema = z.strictObject({
      owner: z.union([z.int().min(0), z.string().regex(/^[a-z]+$/, { error: 'is not a user name' })]).optional(),
      source: z.union([z.strictObject({ git: z.string(), ref: z.string() }), z.strictObject({ path: z.string() })]).optional(),
    });
    expect(problems(schema, 'owner: -1\n')).toMatchInlineSnapshot(`
      [
        "site.yaml:1:8: owner: must be at least 0, got number -1",
      ]
    `);
    expect(problems(schema, 'owner: Root\n')).toMatchInlineSnapshot(`
      [
        "site.yaml:1:8: owner: is not a user name",
      ]
    `);
    expect(problems(schema, 'source: { path: 1 }\n')).toMatchInlineSnapshot(`
      [
        "site.yaml:1:17: source.path: expected a string, got number 1",
      ]
    `);
    expect(problems(schema, 'source: { git: x, ref: 1 }\n')).toMatchInlineSnapshot(`
      [
        "site.yaml:1:24: source.ref: expected a string, got number 1",
      ]
    `);
  });

  it('passes a rule’s own message through when it refuses an absent value', () => {
    const schema = z.strictObject({ group: z.custom<string>((value) => typeof value === 'string', { error: 'name the node group' }) });
    expect(problems(schema, '{}\n')).toMatchInlineSnapshot(`
      [
        "site.yaml:1:1: group: name the node group",
      ]
    `);
  });

  it('lists no keys it cannot see, inside a lazy schema', () => {
    const schema = z.strictObject({ nested: z.lazy(() => z.strictObject({ a: z.string() })) });
    expect(problems(schema, 'nested: { b: 1, a: x }\n')).toMatchInlineSnapshot(`
      [
        "site.yaml:1:11: nested.b: unknown key \`b\`",
      ]
    `);
  });

  it('passes zod’s own message through when a discriminated union matches no branch', () => {
    const schema = z.strictObject({
      kind: z.discriminatedUnion('type', [z.strictObject({ type: z.literal('a') }), z.strictObject({ type: z.literal('b') })]),
    });
    expect(problems(schema, 'kind: { type: c }\n')).toMatchInlineSnapshot(`
      [
        "site.yaml:1:15: kind.type: Invalid discriminator value. Expected 'a' | 'b'",
      ]
    `);
  });

  it('sorts problems by line, then column', () => {
    const schema = z.strictObject({ a: z.string(), b: z.string(), c: z.string() });
    expect(problems(schema, 'c: 1\nb: 2\na: 3\n')).toMatchInlineSnapshot(`
      [
        "site.yaml:1:4: c: expected a string, got number 1",
        "site.yaml:2:4: b: expected a string, got number 2",
        "site.yaml:3:4: a: expected a string, got number 3",
      ]
    `);
    expect(problems(schema, '{ c: 1, b: 2, a: 3 }\n')).toMatchInlineSnapshot(`
      [
        "site.yaml:1:6: c: expected a string, got number 1",
        "site.yaml:1:12: b: expected a string, got number 2",
        "site.yaml:1:18: a: expected a string, got number 3",
      ]
    `);
  });

  it('keeps zod’s order for problems without a location', () => {
    const document: YamlDocument = { file: 'generated.yaml', data: { a: 1, b: 2 }, locate: () => undefined };
    const checked = checkSchema(z.strictObject({ a: z.string(), b: z.string() }), document);
    expect(checked.ok ? [] : checked.problems).toMatchInlineSnapshot(`
      [
        {
          "file": "generated.yaml",
          "message": "expected a string, got number 1",
          "path": "a",
        },
        {
          "file": "generated.yaml",
          "message": "expected a string, got number 2",
          "path": "b",
        },
      ]
    `);
  });

  it('describes values YAML cannot make by their type', () => {
    const document: YamlDocument = { file: 'generated.yaml', data: { a: 10n }, locate: () => ({ line: 1, column: 1 }) };
    const checked = checkSchema(z.strictObject({ a: z.string() }), document);
    expect(checked.ok ? [] : checked.problems.map(formatProblem)).toMatchInlineSnapshot(`
      [
        "generated.yaml:1:1: a: expected a string, got bigint",
      ]
    `);
  });
});

describe('a value of the wrong type', () => {
  it('is reported as that alone, not also as too short or too long', () => {
    expect(problems(z.strictObject({ name: z.string().min(1) }), 'name: []\n')).toEqual([
      expect.stringMatching(/^site\.yaml:1:7: name: expected a string, got a list$/),
    ]);
    expect(problems(z.strictObject({ name: z.string().max(2) }), 'name: [a, b, c]\n')).toEqual([
      expect.stringMatching(/^site\.yaml:1:7: name: expected a string, got a list$/),
    ]);
    // A bound on a value of the right type is still reported.
    expect(problems(z.strictObject({ name: z.string().min(2) }), 'name: x\n')).toEqual([expect.stringContaining('name:')]);
    expect(problems(z.strictObject({ name: z.string().min(2) }), 'name: x\n')[0]).not.toContain('expected a string');
  });
});
