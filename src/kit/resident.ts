/**
 * What a host that runs a package's commands inside its own process (the FEDn client's in-process
 * mode) lends the kit through `CliContext.resident`: a place to keep the live model and the decoded
 * data between commands, and a sink for per-step training metrics.
 *
 * Why: a FEDn client runs train, validate and predict every round on the same data with a new
 * global model. Run as separate processes, each command reads and checks the data file and builds
 * the model again; kept here, round 2 only writes the downloaded weights into the live model. The
 * files stay what FEDn's contract says (the model in `<in>`, the settings in `<in>-metadata`, the
 * outputs checked as FEDn reads them), and the output still depends only on the input model and
 * the settings: every command starts from the weights in its input file, and training state that
 * would carry over (an optimizer's moments) is created per command by the kinds.
 */

import type { Dataset, SplitName } from "./spec.js";

/** Per-step training metrics (`{"train_loss": 0.41}`) and the step they belong to. */
export type TrainMetricsSink = (metrics: Readonly<Record<string, number>>, step: number) => void;

/** The decoded data the kit keeps: one file, identified by its path, size and modification time. */
export interface KeptData {
  readonly path: string;
  readonly stamp: string;
  readonly splits: { [S in SplitName]?: Dataset };
}

/** The live model the kit keeps, with the kind that built it (another kind builds its own). */
export interface KeptModel {
  readonly kind: object;
  readonly model: unknown;
  release(): void;
}

/**
 * The kit's state between commands run in one process. A host creates one per session, sets
 * `onTrainMetrics` around a train command, and calls `close()` at the end; the fields are the
 * kit's.
 *
 * @example const resident = new ResidentState(); await pkg.run(["train", i, o], { ...ctx, resident });
 */
export class ResidentState {
  data: KeptData | undefined;
  model: KeptModel | undefined;
  /** Receives the training loop's loss at the steps the kit logs (every 100th batch and the last of each epoch). */
  onTrainMetrics: TrainMetricsSink | undefined;

  /** Releases the kept model's tensors and drops the data. */
  close(): void {
    this.model?.release();
    this.model = undefined;
    this.data = undefined;
  }
}
