// `faultline serve`: run the sidecar until SIGINT/SIGTERM.

import type { Command } from 'commander';
import { CliError } from '../cli';
import { ConfigError, exampleConfigYaml, loadConfig } from '../config';
import type * as ServeModule from '../serve';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CliError(`not a port number: '${value}'`);
  return n;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('Run the sidecar: OTLP receivers (4318/4317), collectors, detection and the API (7070)')
    .option('-c, --config <file>', 'YAML config file (also FAULTLINE_CONFIG)')
    .option('--api-port <port>', 'API port (0 = any free port)', port)
    .option('--otlp-http-port <port>', 'OTLP/HTTP port', port)
    .option('--otlp-grpc-port <port>', 'OTLP/gRPC port', port)
    .option('--data-dir <dir>', 'where diagnoses, incidents and audit records are kept')
    .option('--ready-file <file>', 'write the bound addresses as JSON here once listening')
    .option('--no-host-metrics', 'do not sample host metrics')
    .action(async (opts) => {
      const overrides: Array<[string[], unknown]> = [];
      if (opts.apiPort !== undefined) overrides.push([['api', 'port'], opts.apiPort]);
      if (opts.otlpHttpPort !== undefined) overrides.push([['otlp', 'http', 'port'], opts.otlpHttpPort]);
      if (opts.otlpGrpcPort !== undefined) overrides.push([['otlp', 'grpc', 'port'], opts.otlpGrpcPort]);
      if (opts.dataDir !== undefined) overrides.push([['dataDir'], opts.dataDir]);
      if (opts.hostMetrics === false) overrides.push([['host', 'enabled'], false]);
      let config;
      try {
        config = loadConfig({ file: opts.config, overrides });
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message);
        throw err;
      }
      // Loaded lazily so commands like `replay` don't pay for fastify and gRPC at start.
      const { startSidecar } = require('../serve') as typeof ServeModule;
      const sidecar = await startSidecar(config, { readyFile: opts.readyFile });
      const a = sidecar.addresses;
      process.stderr.write(
        `faultline: listening api=${a.api} otlp-http=${a.otlpHttp ?? 'off'} otlp-grpc=${a.otlpGrpc ?? 'off'} data=${config.dataDir}\n` +
          `faultline: web view ${a.api}/  API docs ${a.api}/docs\n`,
      );
      await new Promise<void>((resolve) => {
        const shutdown = (signal: string) => {
          process.stderr.write(`faultline: ${signal}, stopping\n`);
          sidecar.stop().finally(resolve);
        };
        process.once('SIGINT', () => shutdown('SIGINT'));
        process.once('SIGTERM', () => shutdown('SIGTERM'));
      });
    });

  program
    .command('config')
    .description('Check a config file, or print an example one')
    .option('-c, --config <file>', 'YAML config file to check (also FAULTLINE_CONFIG)')
    .option('--example', 'print a commented example config')
    .action(async (opts) => {
      if (opts.example) {
        process.stdout.write(exampleConfigYaml());
        return;
      }
      try {
        const config = loadConfig({ file: opts.config });
        process.stdout.write(JSON.stringify({ ...config, api: { ...config.api, token: config.api.token ? '(set)' : undefined }, llm: { ...config.llm, apiKey: config.llm.apiKey ? '(set)' : undefined } }, null, 2) + '\n');
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message);
        throw err;
      }
    });
}
