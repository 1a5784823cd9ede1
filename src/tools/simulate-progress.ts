/**
 * What `fedn-tfjs simulate` shows while it runs. On a terminal: one live status line on stderr
 * (round, clients trained and validated, the last round's mean metrics), redrawn in place and
 * kept below the entry points' own output. Elsewhere (a log, a pipe, CI): nothing live, only the
 * per-round lines the command prints anyway.
 */
import type { RoundResult, SimulateEvent } from "./federation.js";

interface Stream {
  write(text: string): unknown;
  readonly isTTY?: boolean | undefined;
}

/** The live line: `round 2/5  train 3/3  validate 1/3  |  last: accuracy 0.9120 loss 0.3101`. */
export function renderStatus(state: {
  round: number;
  rounds: number;
  clients: number;
  trained: number;
  validated: number;
  /** Entry points that failed this round. */
  failed?: number | undefined;
  last?: RoundResult | undefined;
}): string {
  const parts = [
    `round ${state.round}/${state.rounds}`,
    `train ${state.trained}/${state.clients}`,
    `validate ${state.validated}/${state.clients}`,
  ];
  if ((state.failed ?? 0) > 0) parts.push(`(${state.failed} failed)`);
  const mean = state.last?.mean;
  if (mean !== undefined) {
    const acc = mean.test_accuracy;
    const loss = mean.test_loss;
    const metrics = [
      acc === undefined ? "" : `accuracy ${acc.toFixed(4)}`,
      loss === undefined ? "" : `loss ${loss.toFixed(4)}`,
    ]
      .filter((s) => s !== "")
      .join(" ");
    if (metrics !== "") parts.push(`| round ${state.last!.round}: ${metrics}`);
  }
  return parts.join("  ");
}

/** A display fed with the federation's events; `log` passes entry-point output through it. */
export interface SimulateDisplay {
  event(event: SimulateEvent): void;
  readonly log: Stream;
  /** Writes `text` to `out` (stdout, say) without tearing the live line. */
  print(out: { write(text: string): unknown }, text: string): void;
  finish(): void;
}

/** The live display on a TTY `stream`; a pass-through on anything else. */
export function createSimulateDisplay(stream: Stream): SimulateDisplay {
  if (stream.isTTY !== true) {
    return { event() {}, log: stream, print: (out, text) => out.write(text), finish() {} };
  }
  const state = { round: 0, rounds: 0, clients: 0, trained: 0, validated: 0 } as Parameters<
    typeof renderStatus
  >[0];
  let shown = false;
  const clear = () => {
    if (shown) stream.write("\r\x1b[K");
    shown = false;
  };
  const draw = () => {
    if (state.round === 0) return;
    // A pseudo-terminal may report 0 columns; then assume a common width.
    const columns = (stream as { columns?: number }).columns || 100;
    stream.write(`\r\x1b[K${renderStatus(state).slice(0, Math.max(20, columns - 1))}`);
    shown = true;
  };
  return {
    event(e) {
      if (e.type === "round") {
        Object.assign(state, { round: e.round, rounds: e.rounds, clients: e.clients });
        state.trained = 0;
        state.validated = 0;
        state.failed = 0;
      } else if (e.type === "client") {
        if (e.stage === "train") state.trained++;
        else if (e.stage === "validate") state.validated++;
        if (!e.ok) state.failed = (state.failed ?? 0) + 1;
      } else if (e.type === "done") {
        state.last = e.round;
      }
      draw();
    },
    log: {
      write(text: string) {
        clear();
        stream.write(text);
        draw();
        return true;
      },
    },
    print(out, text) {
      clear();
      out.write(text);
      draw();
    },
    finish: clear,
  };
}
