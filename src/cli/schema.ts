import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { Command } from 'commander';

import { ExitCode } from '../errors/user-error.js';
import { renderJsonSchema, schemaFiles } from '../recipe/json-schema.js';
import type { CommandContext } from './context.js';
import { writeLines } from './io.js';

export function schemaCommand(context: CommandContext, setExit: (code: number) => void): Command {
  return new Command('schema')
    .summary('write the JSON Schemas editors use to autocomplete recipes and pxeforge.yaml')
    .description(
      `Writes ${Object.keys(schemaFiles).join(', ')} from the schemas pxeforge validates with.\n` +
        'With --check, writes nothing and exits 1 when a file is missing or stale.',
    )
    .option('--check', 'only report stale files')
    .action(async (options: { check?: boolean }) => {
      const repo = await context.repo();
      const stale: string[] = [];
      for (const [file, schema] of Object.entries(schemaFiles)) {
        const target = path.join(repo.root, file);
        const text = renderJsonSchema(schema, path.basename(file));
        const current = await readFile(target, 'utf8').catch(() => undefined);
        if (current === text) continue;
        stale.push(file);
        if (!options.check) await writeFile(target, text);
      }
      if (options.check) {
        writeLines(
          context.io.stdout,
          stale.length === 0 ? ['schemas are up to date'] : stale.map((file) => `stale: ${file} (run \`pxeforge schema\`)`),
        );
        setExit(stale.length === 0 ? ExitCode.ok : ExitCode.failure);
      } else {
        writeLines(context.io.stdout, stale.length === 0 ? ['schemas are up to date'] : stale.map((file) => `wrote ${file}`));
      }
    });
}
