/**
 * A one-line live progress bar for terminals. Rendering is a pure function; the bar writes to the
 * stream it is given, at most ten times a second, and only if that stream is a TTY (FEDn captures
 * stderr into its logs, where carriage-return animations are noise).
 */

/** What the bar shows. */
export interface ProgressState {
  readonly label: string;
  readonly done: number;
  readonly total: number;
  /** Latest loss, if known. */
  readonly loss?: number | undefined;
  /** Items per second so far. */
  readonly rate?: number | undefined;
}

/** `epoch 1/1 [#########-----------]  45% loss 0.8123  41,230 samples/s` (no newline). */
export function renderProgress(state: ProgressState, width = 24): string {
  const fraction = state.total > 0 ? Math.min(1, state.done / state.total) : 0;
  const filled = Math.round(fraction * width);
  const bar = `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  const loss = state.loss === undefined ? "" : ` loss ${state.loss.toFixed(4)}`;
  const rate =
    state.rate === undefined || !Number.isFinite(state.rate)
      ? ""
      : ` ${Math.round(state.rate).toLocaleString("en-US")} samples/s`;
  return `${state.label} ${bar} ${percent}${loss}${rate}`;
}

export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean | undefined;
}

export interface ProgressBar {
  /** Redraws if enough time has passed since the last draw (or `force`). */
  update(state: Omit<ProgressState, "rate">, force?: boolean): void;
  /** Clears the line so the next output starts clean. */
  finish(): void;
}

/**
 * A bar on `stream` if it is a TTY, else a bar that does nothing. `now` is injectable so tests
 * need no clock.
 */
export function createProgressBar(
  stream: ProgressStream,
  now: () => number = () => performance.now(),
): ProgressBar {
  if (stream.isTTY !== true) return { update() {}, finish() {} };
  const start = now();
  let last = Number.NEGATIVE_INFINITY;
  let drawn = false;
  return {
    update(state, force = false) {
      const t = now();
      if (!force && t - last < 100) return;
      last = t;
      const seconds = (t - start) / 1000;
      const rate = seconds > 0 ? state.done / seconds : undefined;
      stream.write(`\r${renderProgress({ ...state, rate })}\u001b[K`);
      drawn = true;
    },
    finish() {
      if (drawn) stream.write("\r\u001b[K");
      drawn = false;
    },
  };
}
