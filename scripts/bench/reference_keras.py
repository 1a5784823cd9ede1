#!/usr/bin/env python3
"""FEDn's Keras MNIST example (examples/mnist-keras: Flatten, Dense 64 relu, Dropout 0.5,
Dense 32 relu, Dense 10 softmax; Adam 1e-3; categorical cross-entropy; `model.fit` with batch 32,
1 epoch), made runnable stand-alone on a Keras-style npz for `npm run bench`'s keras section.
Reported only: it is a different model family's cost (TensorFlow's start-up and `fit`), not a
target.

  /work/venv-tf/bin/python scripts/bench/reference_keras.py init_seed seed.npz
  /work/venv-tf/bin/python scripts/bench/reference_keras.py train seed.npz out.npz --data_path D
  /work/venv-tf/bin/python scripts/bench/reference_keras.py validate out.npz metrics.json --data_path D
"""

import argparse
import json
import os

import numpy as np


def compile_model():
    import tensorflow as tf

    model = tf.keras.models.Sequential(
        [
            tf.keras.layers.Input(shape=(28, 28)),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(64, activation="relu"),
            tf.keras.layers.Dropout(0.5),
            tf.keras.layers.Dense(32, activation="relu"),
            tf.keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        loss=tf.keras.losses.categorical_crossentropy,
        optimizer=tf.keras.optimizers.Adam(learning_rate=0.001),
        metrics=["accuracy"],
    )
    return model


def load(path, split):
    with np.load(path) as d:
        x = d[f"x_{split}"].reshape(-1, 28, 28).astype(np.float32) / 255
        y = np.eye(10, dtype=np.float32)[d[f"y_{split}"].astype(np.int64)]
    return x, y


def save_weights(model, path):
    np.savez_compressed(path, **{str(i): w for i, w in enumerate(model.get_weights())})


def load_weights(model, path):
    with np.load(path) as d:
        model.set_weights([d[str(i)] for i in range(len(d.files))])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["init_seed", "train", "validate"])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--data_path", default=os.environ.get("FEDN_DATA_PATH"))
    a = ap.parse_args()
    model = compile_model()
    if a.command == "init_seed":
        save_weights(model, a.paths[0])
        return
    load_weights(model, a.paths[0])
    if a.command == "train":
        x, y = load(a.data_path, "train")
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        save_weights(model, a.paths[1])
    else:
        xt, yt = load(a.data_path, "train")
        xs, ys = load(a.data_path, "test")
        tl, ta = model.evaluate(xt, yt, verbose=0)
        sl, sa = model.evaluate(xs, ys, verbose=0)
        with open(a.paths[1], "w") as f:
            json.dump(
                {"training_loss": tl, "training_accuracy": ta, "test_loss": sl, "test_accuracy": sa},
                f,
            )


if __name__ == "__main__":
    main()
