import type { Command } from 'commander';
import { redactedConfig } from '../config/load.js';
import { addConfigOptions, configFromOptions } from './config-options.js';
import { addOutputOptions, Output } from './progress.js';

/**
 * `sarbridge config`: the configuration `serve` and `worker` would start with (flags, SARBRIDGE_*
 * variables, --config file, defaults), validated, with where each setting came from; secrets masked.
 * A bad setting exits with 2 and one line per setting.
 */
export function registerConfigCommand(program: Command): void {
  addOutputOptions(
    addConfigOptions(
      program
        .command('config')
        .description('show the validated configuration and where each setting comes from (secrets masked)'),
    ),
  ).action((o: Record<string, unknown>) => {
    const { json: _json, quiet: _quiet, ...flags } = o;
    new Output(o).result(redactedConfig(configFromOptions(flags)));
  });
}
