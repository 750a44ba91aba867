/**
 * Runs the `tastemaker` command in this process with console output captured: what tests (and scripts
 * embedding the CLI) use to check an exit code and the JSON summary on the last stdout line.
 */
import { main } from './main.js';

export interface CapturedRun {
  code: number;
  /** console.log lines (stdout), in order. */
  out: string[];
  /** console.error lines (stderr), in order. */
  err: string[];
}

export async function runCaptured(args: string[]): Promise<CapturedRun> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => void out.push(a.join(' '));
  console.error = (...a: unknown[]) => void err.push(a.join(' '));
  try {
    return { code: await main(args), out, err };
  } finally {
    console.log = log;
    console.error = error;
  }
}
