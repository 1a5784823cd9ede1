#!/usr/bin/python3
"""FEDn's PyTorch MNIST entrypoint.py (the compute-package tutorial), made runnable stand-alone.

This is the reference that `npm run bench` measures fedn-tfjs against, so it stays as close to
the tutorial as it can: the same model, loss, optimiser, batch loop, print lines, metadata and
metrics. What differs, and why:

- No `fedn` or `fire` import (neither is installed here). FEDn's helpers are re-implemented
  below with the semantics of `fedn.utils.helpers`: numpyhelper.save is `np.savez_compressed`
  with keys "0".."N-1", numpyhelper.load reads those keys back in order, save_metadata writes
  `<path>-metadata`, save_metrics writes the JSON object to the path. argparse keeps fire's
  argument contract: `train IN OUT [--data_path P] [--batch_size 32] [--epochs 1] [--lr 0.01]`,
  flags before or after the positionals, `--data-path` accepted too.
- Data comes from a Keras-style npz (x_train, y_train, x_test, y_test; pixels uint8) instead
  of a torch.save file; pixels are divided by 255 as float32 and labels are int64, which is
  what the tutorial's `X / 255` on a uint8 tensor and NLLLoss need.
- The tutorial's two bugs are fixed: `_get_data_path` was never defined (here: FEDN_DATA_PATH,
  else data/clients/1/mnist.npz, as FEDn's newer examples do), and `_save_model` handed the
  state_dict to numpyhelper instead of the list of arrays it builds (the file would hold key
  names). Loading likewise pairs the arrays with state_dict keys in order, as FEDn's
  maintained examples do; the tutorial's loop would index the dict with arrays.
- With FEDN_BENCH_TIMING set, `train` prints the batch loop's own time on stderr (the
  benchmark's GFLOP/s figure); stdout is unchanged.
- `init_seed` takes `--seed` (torch.manual_seed) so the benchmark can make the same seed model
  for both implementations.

- The tutorial's `_load_model` also calls `model.eval()` and `train` never switches back, so it
  would train with dropout switched off. FEDn's maintained example (examples/mnist-pytorch,
  `load_parameters`) fixed that by calling `eval()` in `validate` only; this script does the
  same, so training uses dropout(0.5) as the model defines (and as fedn-tfjs does).

Threads are torch's default (what a FEDn client gets);
set OMP_NUM_THREADS / torch.set_num_threads from outside to change that.

Run with Debian's interpreter: `/usr/bin/python3 scripts/bench/reference_torch.py --help`.
"""

import argparse
import collections
import json
import math
import os
import sys
import time

import numpy as np
import torch

NUM_CLASSES = 10
DEFAULT_DATA_PATH = os.path.join("data", "clients", "1", "mnist.npz")


# --- stand-ins for fedn.utils.helpers (same file formats) ---------------------------------


def _helper_save(weights, path):
    """numpyhelper.save: a list of arrays as keys "0".."N-1", deflated."""
    np.savez_compressed(path, **{str(i): w for i, w in enumerate(weights)})


def _helper_load(path):
    """numpyhelper.load: keys "0".."N-1" by name, in order."""
    with np.load(path) as a:
        return [a[str(i)] for i in range(len(a.files))]


def save_metadata(metadata, filename):
    """helpers.save_metadata: the flat JSON object beside the model, `<model>-metadata`."""
    with open(filename + "-metadata", "w") as outfile:
        json.dump(metadata, outfile)


def save_metrics(metrics, filename):
    """helpers.save_metrics: the JSON object of scalar metrics."""
    with open(filename, "w") as outfile:
        json.dump(metrics, outfile)


# --- the tutorial's entrypoint ------------------------------------------------------------


def _get_data_path():
    """The tutorial calls this without defining it; FEDn's newer examples read FEDN_DATA_PATH."""
    return os.environ.get("FEDN_DATA_PATH", DEFAULT_DATA_PATH)


def _compile_model():
    """Compile the pytorch model."""

    class Net(torch.nn.Module):
        def __init__(self):
            super(Net, self).__init__()
            self.fc1 = torch.nn.Linear(784, 64)
            self.fc2 = torch.nn.Linear(64, 32)
            self.fc3 = torch.nn.Linear(32, 10)

        def forward(self, x):
            x = torch.nn.functional.relu(self.fc1(x.reshape(x.size(0), 784)))
            x = torch.nn.functional.dropout(x, p=0.5, training=self.training)
            x = torch.nn.functional.relu(self.fc2(x))
            x = torch.nn.functional.log_softmax(self.fc3(x), dim=1)
            return x

    return Net()


def _load_data(data_path, is_train=True):
    """Load one split from a Keras-style npz; pixels / 255 as float32, labels as int64."""
    if data_path is None:
        data_path = _get_data_path()
    with np.load(data_path) as data:
        if is_train:
            X = data["x_train"]
            y = data["y_train"]
        else:
            X = data["x_test"]
            y = data["y_test"]

    # Normalize (uint8 tensor / 255 gives float32, as in the tutorial's torch.load data)
    X = torch.from_numpy(X) / 255
    y = torch.from_numpy(y.astype(np.int64))

    return X, y


def _save_model(model, out_path):
    """Save model to disk: the list of arrays in state_dict order (bug fixed)."""
    weights = model.state_dict()
    weights_np = [weights[w].cpu().detach().numpy() for w in weights]
    _helper_save(weights_np, out_path)


def _load_model(model_path):
    """Load model from disk, pairing the arrays with state_dict keys in order."""
    weights_np = _helper_load(model_path)
    model = _compile_model()
    keys = list(model.state_dict().keys())
    if len(keys) != len(weights_np):
        raise ValueError(f"{model_path}: expected {len(keys)} arrays, found {len(weights_np)}")
    weights = collections.OrderedDict(
        (k, torch.tensor(w)) for k, w in zip(keys, weights_np)
    )
    model.load_state_dict(weights)
    return model


def init_seed(out_path="seed.npz", seed=None):
    """Initialize seed model (seeded when --seed is given)."""
    if seed is not None:
        torch.manual_seed(seed)
    model = _compile_model()
    _save_model(model, out_path)


def train(in_model_path, out_model_path, data_path=None, batch_size=32, epochs=1, lr=0.01):
    """Train model."""
    # Load data
    x_train, y_train = _load_data(data_path)

    # Load model
    model = _load_model(in_model_path)

    # Train
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    n_batches = int(math.ceil(len(x_train) / batch_size))
    criterion = torch.nn.NLLLoss()
    loop_start = time.perf_counter()
    for e in range(epochs):  # epoch loop
        for b in range(n_batches):  # batch loop
            # Retrieve current batch
            batch_x = x_train[b * batch_size : (b + 1) * batch_size]
            batch_y = y_train[b * batch_size : (b + 1) * batch_size]
            # Train on batch
            optimizer.zero_grad()
            outputs = model(batch_x)
            loss = criterion(outputs, batch_y)
            loss.backward()
            optimizer.step()
            # Log
            if b % 100 == 0:
                print(f"Epoch {e}/{epochs-1} | Batch: {b}/{n_batches-1} | Loss: {loss.item()}")
    if os.environ.get("FEDN_BENCH_TIMING"):
        # Not in the tutorial: lets the benchmark compare loop GFLOP/s, on stderr only.
        loop_s = time.perf_counter() - loop_start
        sys.stderr.write(f"bench: train loop {loop_s:.4f} s, {epochs * n_batches} steps\n")

    # Metadata needed for aggregation server side
    metadata = {
        "num_examples": len(x_train),
        "batch_size": batch_size,
        "epochs": epochs,
        "lr": lr,
    }

    # Save JSON metadata file
    save_metadata(metadata, out_model_path)

    # Save model update
    _save_model(model, out_model_path)


def validate(in_model_path, out_json_path, data_path=None):
    """Validate model."""
    # Load data
    x_train, y_train = _load_data(data_path)
    x_test, y_test = _load_data(data_path, is_train=False)

    # Load model
    model = _load_model(in_model_path)
    model.eval()

    # Evaluate
    criterion = torch.nn.NLLLoss()
    with torch.no_grad():
        train_out = model(x_train)
        training_loss = criterion(train_out, y_train)
        training_accuracy = torch.sum(torch.argmax(train_out, dim=1) == y_train) / len(train_out)
        test_out = model(x_test)
        test_loss = criterion(test_out, y_test)
        test_accuracy = torch.sum(torch.argmax(test_out, dim=1) == y_test) / len(test_out)

    # JSON schema
    report = {
        "training_loss": training_loss.item(),
        "training_accuracy": training_accuracy.item(),
        "test_loss": test_loss.item(),
        "test_accuracy": test_accuracy.item(),
    }

    # Save JSON
    save_metrics(report, out_json_path)


def _parser():
    parser = argparse.ArgumentParser(
        prog="reference_torch.py",
        description="FEDn's PyTorch MNIST entrypoint (tutorial), runnable with npz data.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def data_path_option(p):
        p.add_argument(
            "--data_path",
            "--data-path",
            dest="data_path",
            default=None,
            help=f"npz with x_train, y_train, x_test, y_test (default: $FEDN_DATA_PATH or "
            f"{DEFAULT_DATA_PATH})",
        )

    p = sub.add_parser("init_seed", help="write a seed model")
    p.add_argument("out_path", nargs="?", default="seed.npz")
    p.add_argument("--seed", type=int, default=None, help="torch.manual_seed before init")

    p = sub.add_parser("train", help="train one model update")
    p.add_argument("in_model_path")
    p.add_argument("out_model_path")
    data_path_option(p)
    p.add_argument("--batch_size", "--batch-size", dest="batch_size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--lr", type=float, default=0.01)

    p = sub.add_parser("validate", help="write validation metrics as JSON")
    p.add_argument("in_model_path")
    p.add_argument("out_json_path")
    data_path_option(p)
    return parser


def main(argv):
    args = vars(_parser().parse_args(argv))
    command = args.pop("command")
    {"init_seed": init_seed, "train": train, "validate": validate}[command](**args)


if __name__ == "__main__":
    main(sys.argv[1:])
