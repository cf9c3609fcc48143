/**
 * `sarbridge ingest|worker|jobs` alone, for the tests' child processes: the pipeline commands as
 * main.ts registers them, without loading every other command's modules.
 */
import { Command } from 'commander';
import { registerPipelineCommands } from '../../src/cli/pipeline-commands.js';

const program = new Command().name('sarbridge');
registerPipelineCommands(program);
program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(`sarbridge: ${err.message}\n`);
  process.exitCode = 1;
});
