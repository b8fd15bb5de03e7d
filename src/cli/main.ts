import { Command, CommanderError } from 'commander';

import { ExitCode } from '../errors/user-error.js';
import { buildCommand } from './build.js';
import { diffCommand, imagesCommand, showCommand } from './images.js';
import { cacheCommand } from './cache.js';
import { testCommand } from './test.js';
import { promoteCommand, refreshCommand, rollbackCommand } from './promote.js';
import { changedCommand, pipelineCommand } from './pipeline.js';
import { k8sCommand } from './k8s.js';
import { nodesCommand } from './nodes.js';
import { renderCommand } from './render.js';
import { reportCommand } from './report.js';
import { gcCommand, historyCommand, statusCommand, unlockCommand, verifyCommand } from './tree.js';
import { commandContext, type GlobalOptions } from './context.js';
import { doctorCommand } from './doctor.js';
import { fleetCommand } from './fleet.js';
import { rolloutCommand } from './rollout.js';
import type { CliIo } from './io.js';
import { reportError } from './report-error.js';
import { schemaCommand } from './schema.js';
import { abortOnSignals } from './signals.js';
import { validateCommand } from './validate.js';
import { version } from '../version.js';

/** Builds the command tree. Only verbs that exist are registered (and so listed in --help). */
export function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command('pxeforge')
    .description('Build, boot-test and promote diskless node images from recipes kept in git.')
    .version(version, '-V, --version')
    .option('--repo <dir>', 'recipe repository (default: the nearest directory with pxeforge.yaml)')
    .option('--json', 'machine-readable output: JSON (lines) on stdout, errors as JSON on stderr')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', '\nExit codes: 0 ok, 1 an operation failed, 2 invalid input or usage (nothing changed), 130 interrupted.')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });
  const context = commandContext(io, () => program.opts<GlobalOptions>());
  for (const make of [
    validateCommand,
    buildCommand,
    testCommand,
    promoteCommand,
    rollbackCommand,
    statusCommand,
    historyCommand,
    verifyCommand,
    gcCommand,
    refreshCommand,
    unlockCommand,
    changedCommand,
    pipelineCommand,
    k8sCommand,
    renderCommand,
    imagesCommand,
    showCommand,
    diffCommand,
    nodesCommand,
    fleetCommand,
    rolloutCommand,
    reportCommand,
    cacheCommand,
    schemaCommand,
    doctorCommand,
  ]) {
    program.addCommand(make(context, setExit));
  }
  // Every command, nested ones included, reports through main() instead of exiting.
  const inherit = (command: Command) => {
    for (const sub of command.commands) {
      sub.exitOverride().configureOutput(program.configureOutput());
      inherit(sub);
    }
  };
  inherit(program);
  return program;
}

/** Runs the CLI and returns its exit code; never throws. */
export async function main(argv: readonly string[], io?: Partial<CliIo>): Promise<number> {
  const signals = io?.signal === undefined ? abortOnSignals() : undefined;
  const fullIo: CliIo = {
    stdout: io?.stdout ?? process.stdout,
    stderr: io?.stderr ?? process.stderr,
    cwd: io?.cwd ?? process.cwd(),
    signal: io?.signal ?? signals!.signal,
  };
  let exitCode: number = ExitCode.ok;
  const program = buildProgram(fullIo, (code) => {
    exitCode = code;
  });
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return ExitCode.invalidInput;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError && error.exitCode === 0) return ExitCode.ok;
    return reportError(error, fullIo, program.opts<GlobalOptions>().json === true);
  } finally {
    signals?.dispose();
  }
}
