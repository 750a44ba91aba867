/**
 * Progress reporting for long CLI jobs (imports, training). A bar is drawn with cli-progress only when
 * stderr is a terminal, so piped output and CI logs stay clean and the JSON summary on stdout is never
 * interleaved with bar frames. Otherwise every method is a no-op.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** Sets the absolute amount done (and optionally a new total). */
  update(done: number, total?: number): void;
  stop(): void;
}

export interface ProgressOptions {
  /** Unit shown after the counts, e.g. 'events' or 'bytes'. */
  unit?: string;
  /** Force on/off; defaults to whether the stream is a TTY. */
  enabled?: boolean;
  stream?: NodeJS.WriteStream;
}

const noop: Progress = { update: () => {}, stop: () => {} };

export function createProgress(label: string, total: number, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const enabled = opts.enabled ?? Boolean(stream.isTTY);
  if (!enabled) return noop;
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label} [{bar}] {percentage}% | {value}/{total} ${opts.unit ?? ''} | {eta_formatted} left`,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(Math.max(1, total), 0);
  let stopped = false;
  return {
    update(done, newTotal) {
      if (stopped) return;
      if (newTotal !== undefined) bar.setTotal(Math.max(1, newTotal));
      bar.update(done);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
