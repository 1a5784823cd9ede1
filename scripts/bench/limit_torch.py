"""The PyTorch side of the limit section of scripts/bench.mjs: the same large square matMul and
the model's biggest per-step product, on the reference's interpreter and default threads, so
the reference's loop can be read against its own ceiling. Prints one JSON object.

Run with Debian's interpreter: /usr/bin/python3 scripts/bench/limit_torch.py
"""

import json
import re
import time

import torch


def seconds_per_call(op, reps):
    """Best of three timed rounds after a warm-up (noise on a shared machine only adds time)."""
    for _ in range(min(reps, 20)):
        op()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(reps):
            op()
        best = min(best, (time.perf_counter() - start) / reps)
    return best


def main():
    torch.manual_seed(0)
    a = torch.rand(1024, 1024)
    b = torch.rand(1024, 1024)
    big = seconds_per_call(lambda: a @ b, 5)
    x = torch.rand(32, 784)
    w = torch.rand(784, 64)
    fwd1 = seconds_per_call(lambda: x @ w, 1000)
    config = torch.__config__.show()
    blas = re.search(r"BLAS_INFO=(\w+)", config)
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "blas": blas.group(1) if blas else None,
                "big": {"seconds": big, "gflops": 2 * 1024**3 / big / 1e9},
                "fwd1": {"seconds": fwd1, "gflops": 2 * 32 * 784 * 64 / fwd1 / 1e9},
            }
        )
    )


if __name__ == "__main__":
    main()
