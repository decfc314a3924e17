// One line per subcommand; each module exports register(program).
import type { Command } from 'commander';

export function registerCommands(program: Command): void {
  void program;
  require('./serve').register(program);
  require('./replay').register(program);
  require('./bench').register(program);
  require('./import').register(program);
  require('./record').register(program);
  require('./tune').register(program);
}
