/**
 * The `tastemaker` command. Each subcommand lives in `commands/<name>.ts` and exports
 * `register(program)`; this file only wires them and maps errors to exit codes.
 */
import { Command, CommanderError } from 'commander';
import { isTastemakerError } from '../core/errors.js';
import { commands } from './commands/index.js';

export async function main(argv: string[]): Promise<number> {
  const program = new Command('tastemaker')
    .description('Recommendation and search engine for content apps')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError();
  for (const register of commands) register(program);
  // Commands signal a non-zero exit through process.exitCode; read it for this call only so that an
  // earlier failure in the same process (e.g. a test runner's) does not leak into this result.
  const previousExitCode = process.exitCode;
  process.exitCode = undefined;
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (isTastemakerError(e)) {
      console.error(`error: ${e.message}`);
      for (const issue of e.issues) console.error(`  ${issue.path}: ${issue.message}`);
      return e.status >= 500 ? 1 : 2;
    }
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    return 1;
  } finally {
    process.exitCode = previousExitCode;
  }
}
