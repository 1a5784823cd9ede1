#!/usr/bin/python3
"""The training loop fedn-tfjs's fast engine is measured against: the same dense stack, loss,
dropout and SGD step written in numpy on one BLAS thread, as a numpy user would write it.

  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 scripts/bench/loop_numpy.py --data data/fashion-mnist.npz \
      [--sizes 784,64,32,10] [--dropout 0.5] [--batch 32] [--epochs 1] [--count 60000] [--lr 0.01]

Prints one JSON line: loop seconds (wall, and CPU of the process; the batch loop alone: uint8 -> float32 / 255 per batch,
forward, log-softmax + NLL gradient, backward, in-place SGD update, dropout mask per step), the
steps, the final training loss and which BLAS numpy runs on (from /proc/self/maps).
"""

import argparse
import json
import re
import time

import numpy as np


def blas_in_use():
    """The BLAS library mapped into this process: openblas, mkl, blis or the reference libblas."""
    try:
        maps = open("/proc/self/maps").read()
    except OSError:
        return "unknown"
    libs = set(re.findall(r"/\S*(?:blas|mkl|blis)\S*\.so\S*", maps))
    for name in ("openblas", "mkl", "blis"):
        if any(name in lib for lib in libs):
            return name
    return "reference" if libs else "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--sizes", default="784,64,32,10")
    ap.add_argument("--dropout", type=float, default=0.5, help="rate after the first hidden layer")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--count", type=int, default=60000)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    with np.load(a.data) as d:
        x = d["x_train"].reshape(len(d["x_train"]), -1)[: a.count]
        y = d["y_train"][: a.count].astype(np.int64)
    assert x.shape[1] == sizes[0], f"data has {x.shape[1]} features, sizes[0] is {sizes[0]}"
    rng = np.random.default_rng(a.seed)
    # PyTorch's default Linear init, (in, out) layout so the forward pass is x @ W.
    W, b = [], []
    for n, m in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(n)
        W.append(rng.uniform(-bound, bound, (n, m)).astype(np.float32))
        b.append(rng.uniform(-bound, bound, m).astype(np.float32))
    L = len(W)
    keep = np.float32(1 / (1 - a.dropout)) if a.dropout > 0 else None
    n = len(x)
    steps = 0
    loss = float("nan")
    blas = blas_in_use()
    start = time.perf_counter()
    cpu_start = time.process_time()
    for _ in range(a.epochs):
        for s in range(0, n, a.batch):
            xb = x[s : s + a.batch].astype(np.float32)
            xb /= np.float32(255)
            yb = y[s : s + a.batch]
            rows = len(xb)
            hs, masks = [xb], []
            h = xb
            for l in range(L):
                z = h @ W[l]
                z += b[l]
                if l < L - 1:
                    np.maximum(z, 0, out=z)
                    if l == 0 and keep is not None:
                        mask = (rng.random(z.shape, dtype=np.float32) >= a.dropout) * keep
                        z *= mask
                        masks.append(mask)
                    else:
                        masks.append(None)
                    hs.append(z)
                h = z
            z = h
            z -= z.max(axis=1, keepdims=True)
            e = np.exp(z)
            p = e / e.sum(axis=1, keepdims=True)
            if steps % 100 == 0:
                loss = float(-np.mean(np.log(p[np.arange(rows), yb])))
            g = p
            g[np.arange(rows), yb] -= 1
            g *= np.float32(a.lr / rows)
            for l in range(L - 1, -1, -1):
                gw = hs[l].T @ g
                gb = g.sum(axis=0)
                if l > 0:
                    g_below = g @ W[l].T
                    if masks[l - 1] is not None:
                        g_below *= masks[l - 1]
                    g_below *= hs[l] > 0
                W[l] -= gw
                b[l] -= gb
                if l > 0:
                    g = g_below
            steps += 1
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    print(json.dumps({"loop_s": seconds, "cpu_s": cpu, "steps": steps, "loss": loss, "blas": blas,
                      "numpy": np.__version__, "sizes": sizes, "batch": a.batch,
                      "epochs": a.epochs, "count": n}))


if __name__ == "__main__":
    main()
