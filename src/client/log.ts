/**
 * FEDn-style log lines (`fedn/common/log_config.py`: `%(asctime)s [%(levelname)s] %(message)s`,
 * date as `%Y-%m-%d %H:%M:%S`), written to a sink the caller gives; DEBUG lines (the protocol)
 * only with `verbose`.
 */

/** Where the client's log lines go. */
export interface Logger {
  info(message: string): void;
  warning(message: string): void;
  error(message: string): void;
  /** Protocol detail: shown with `--verbose`. */
  debug(message: string): void;
}

function stamp(date: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())} ${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}`;
}

/** A logger writing FEDn's line format to `sink`. */
export function fednLogger(sink: { write(text: string): unknown }, verbose = false): Logger {
  const line = (level: string) => (message: string) => {
    sink.write(`${stamp(new Date())} [${level}] ${message}\n`);
  };
  const debug = line("DEBUG");
  return {
    info: line("INFO"),
    warning: line("WARNING"),
    error: line("ERROR"),
    debug: verbose ? debug : () => undefined,
  };
}

/** Waits `ms`, or less when `signal` aborts (then resolves at once; callers check `aborted`). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolveSleep) => {
    if (signal?.aborted) {
      resolveSleep();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolveSleep();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
