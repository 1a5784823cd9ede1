"""Writes the small files of issue #8 that would inflate to gigabytes, into argv[1]:

- model-bomb.npz (~2 MB): a model whose member "0" declares (64, 7782400) float32, 1.9 GiB of
  zeros, beside the five right arrays;
- model-seven.npz (~2 MB): seven members of 290 MiB of zeros each (2.0 GiB in all, under the
  2 GiB cap of the npz reader);
- package-bomb.tgz (~3 MB): a package whose second file is 3 GiB of zeros.

Each is a valid file (numpy's zipfile/tarfile read them; CRCs are right). The deflate streams are
built from one compressed MiB of zeros repeated: after a full flush the compressor's output no
longer depends on what came before, so the chunks concatenate into a valid stream in seconds.

Usage: python3 test/corpus/make_bombs.py DIR
"""

import io
import os
import struct
import sys
import tarfile
import zlib

import numpy as np

D = sys.argv[1]
os.makedirs(D, exist_ok=True)
MIB = 1 << 20
ZEROS = bytes(MIB)


def zero_stream(prefix, mib, suffix=b""):
    """(raw deflate, crc32, size) of prefix + mib MiB of zeros + suffix."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = c.compress(ZEROS) + c.flush(zlib.Z_FULL_FLUSH)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = c.compress(suffix) + c.flush()
    crc = zlib.crc32(prefix)
    for _ in range(mib):
        crc = zlib.crc32(ZEROS, crc)
    crc = zlib.crc32(suffix, crc)
    return head + chunk * mib + tail, crc, len(prefix) + mib * MIB + len(suffix)


def npy_header(shape, descr="<f4"):
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, {"descr": descr, "fortran_order": False, "shape": shape})
    return f.getvalue()


def write_zip(path, members):
    """members: list of (name, deflated bytes, crc, size); plain zip, deflate method 8."""
    out = io.BytesIO()
    central = []
    for name, data, crc, size in members:
        offset = out.tell()
        n = name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), size, len(n), 0))
        out.write(n)
        out.write(data)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc,
                                   len(data), size, len(n), 0, 0, 0, 0, 0, offset) + n)
    start = out.tell()
    for c in central:
        out.write(c)
    size = out.tell() - start
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), size, start, 0))
    with open(path, "wb") as f:
        f.write(out.getvalue())


def small(name, array):
    body = npy_header(array.shape) + array.tobytes()
    return name, zlib.compress(body, 9)[2:-4], zlib.crc32(body), len(body)


rng = np.random.default_rng(0)
shapes = [(32, 64), (32,), (10, 32), (10,), (64,)]
bomb, crc, size = zero_stream(npy_header((64, 7782400)), 1900)
members = [("0.npy", bomb, crc, size)]
for i, s in zip([2, 3, 4, 5, 1], shapes):
    members.append(small(f"{i}.npy", rng.standard_normal(s).astype(np.float32)))
write_zip(os.path.join(D, "model-bomb.npz"), members)

seven = []
for i in range(7):
    data, crc, size = zero_stream(npy_header((290 * MIB // 4,)), 290)
    seven.append((f"{i}.npy", data, crc, size))
write_zip(os.path.join(D, "model-seven.npz"), seven)

yaml = b"entry_points:\n  validate:\n    command: sh -c 'echo {} > $2'\n"
info = tarfile.TarInfo("client/fedn.yaml")
info.size = len(yaml)
prefix = info.tobuf(format=tarfile.GNU_FORMAT) + yaml + bytes(-len(yaml) % 512)
big = tarfile.TarInfo("client/zeros")
big.size = 3 * 1024 * MIB
prefix += big.tobuf(format=tarfile.GNU_FORMAT)
raw, crc, size = zero_stream(prefix, 3 * 1024, bytes(1024))
with open(os.path.join(D, "package-bomb.tgz"), "wb") as f:
    f.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")
    f.write(raw)
    f.write(struct.pack("<II", crc, size & 0xFFFFFFFF))
print(" ".join(f"{n}:{os.path.getsize(os.path.join(D, n))}" for n in sorted(os.listdir(D))))
