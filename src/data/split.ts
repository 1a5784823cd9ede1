/**
 * Splitting one data set among N clients the way FEDn's examples do (`splitset` in
 * `examples/mnist-pytorch/client/data.py`): every client gets `floor(n / N)` rows of each array,
 * client i (from 1) the contiguous, unshuffled slice `[(i-1)·floor(n/N), i·floor(n/N))`. The last
 * `n mod N` rows of each array belong to no client.
 */
import { DataError, UsageError } from "../errors.js";
import { DATASET_KEYS, type Dataset, sliceRows } from "./dataset.js";

/** Rows each of `parts` clients gets from `rows` rows: FEDn's `floor(n / parts)`. */
export function rowsPerClient(rows: number, parts: number): number {
  return Math.floor(rows / parts);
}

/**
 * Splits `dataset` into `parts` client data sets, FEDn's way (see the module comment). The
 * slices share memory with `dataset`. Fails when a split would leave a client without rows.
 *
 * @example splitDataset(mnist, 2)[0].x_train.shape // [4000, 28, 28] of 8,000 rows
 */
export function splitDataset(dataset: Dataset, parts: number): Dataset[] {
  if (!Number.isInteger(parts) || parts < 1) {
    throw new UsageError(`the number of clients must be a positive integer, found ${parts}`, {
      option: "clients",
    });
  }
  for (const key of DATASET_KEYS) {
    const rows = dataset[key].shape[0] ?? 0;
    if (rowsPerClient(rows, parts) === 0) {
      throw new DataError(
        `cannot split "${key}" (${rows} rows) among ${parts} clients: each would get 0 rows`,
        { key },
      );
    }
  }
  const clients: Dataset[] = [];
  for (let i = 0; i < parts; i++) {
    const part = (key: (typeof DATASET_KEYS)[number]) => {
      const n = rowsPerClient(dataset[key].shape[0] ?? 0, parts);
      return sliceRows(dataset[key], i * n, (i + 1) * n);
    };
    clients.push({
      x_train: part("x_train"),
      y_train: part("y_train"),
      x_test: part("x_test"),
      y_test: part("y_test"),
    });
  }
  return clients;
}
