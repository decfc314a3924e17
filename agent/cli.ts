// The `faultline` command line. Each subcommand lives in agent/commands/<name>.ts and
// registers itself through agent/commands/index.ts, so adding one touches one list.

import { Command, CommanderError } from 'commander';
import { registerCommands } from './commands';

export class CliError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
  }
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('faultline')
    .description('Observability and fault-diagnosis sidecar for recommendation systems')
    .version(require('../package.json').version)
    .showHelpAfterError();
  registerCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    if (err instanceof CliError) {
      process.stderr.write(`faultline: ${err.message}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    process.stderr.write(`faultline: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
