"""Writes the bad-input corpus (issue #8) into the folder given as argv[1].

Every case is a command line of the built CLI that must fail cleanly: the files it reads are
written here with numpy (the oracle for every file that crosses into Python), and cases.json
lists, per case: the program ("entry" = dist/entrypoint.js, "cli" = dist/cli.js), its
arguments, extra environment, the exit status, and a text the one stderr line must contain
(the file, key or option at fault). `{D}` in arguments stands for the corpus folder and `{C}`
for the case's own folder (created by the test, holding the pre-created empty output `out`).

Usage: python3 test/corpus/make_corpus.py DIR
"""

import io
import json
import os
import sys
import tarfile
import zipfile

import numpy as np

D = sys.argv[1]
os.makedirs(D, exist_ok=True)
rng = np.random.default_rng(8)
SHAPES = [(64, 784), (64,), (32, 64), (32,), (10, 32), (10,)]
cases = []


def path(name):
    return os.path.join(D, name)


def model_arrays():
    return [rng.standard_normal(s).astype(np.float32) * 0.05 for s in SHAPES]


def save_model(name, arrays, compressed=True, keys=None):
    keys = keys if keys is not None else [str(i) for i in range(len(arrays))]
    (np.savez_compressed if compressed else np.savez)(path(name), **dict(zip(keys, arrays)))
    return name


def data(n=64, m=16):
    return {
        "x_train": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, (n,)).astype(np.int64),
        "x_test": rng.integers(0, 256, (m, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, (m,)).astype(np.int64),
    }


def save_data(name, arrays):
    np.savez(path(name), **arrays)
    return name


def case(name, program, args, status, mention, env=None, long=False):
    """long=True: a variation run only in the long version (FEDN_TFJS_LONG=1)."""
    cases.append(
        {"name": name, "program": program, "args": args, "status": status,
         "mention": mention if isinstance(mention, list) else [mention], "env": env or {},
         "long": long}
    )


GOOD = save_model("good.npz", model_arrays())
DATA = save_data("data.npz", data())
with open(path(GOOD + "-metadata"), "w") as f:
    f.write("{}")


def validate(model, status, mention, extra=(), long=False):
    case(f"model/{model}", "entry",
         ["validate", "{D}/" + model, "{C}/out", "--data_path", "{D}/" + DATA, *extra],
         status, mention, long=long)


# ---- model files (validate reads them; train would read them the same way) -----------------
open(path("empty.npz"), "wb").close()
validate("empty.npz", 1, "empty.npz")
with open(path("text.npz"), "w") as f:
    f.write("not a zip archive at all\n")
validate("text.npz", 1, "text.npz")
good_bytes = open(path(GOOD), "rb").read()
for cut in [10, 100, 1000, len(good_bytes) // 2, len(good_bytes) - 30, len(good_bytes) - 1]:
    with open(path(f"cut{cut}.npz"), "wb") as f:
        f.write(good_bytes[:cut])
    validate(f"cut{cut}.npz", 1, f"cut{cut}.npz", long=cut in (10, 1000))
for flip in [1500, 200, 5000, len(good_bytes) // 3, len(good_bytes) - 100]:
    b = bytearray(good_bytes)
    b[flip] ^= 0xFF
    with open(path(f"flip{flip}.npz"), "wb") as f:
        f.write(bytes(b))
    validate(f"flip{flip}.npz", 1, f"flip{flip}.npz", long=flip in (200, 5000))
validate(save_model("five.npz", model_arrays()[:5]), 1, "5 arrays")
validate(save_model("seven.npz", model_arrays() + [np.zeros(3, np.float32)]), 1, "7 arrays")
validate(save_model("none.npz", []), 1, "none.npz")
for i, s in enumerate(SHAPES):
    arrays = model_arrays()
    arrays[i] = np.zeros(tuple(d + 1 for d in s), np.float32)
    validate(save_model(f"shape{i}.npz", arrays), 1, f'"{i}"')
    arrays = model_arrays()
    arrays[i] = arrays[i].reshape(-1)[: int(np.prod(s))].reshape((1,) + s)
    validate(save_model(f"rank{i}.npz", arrays), 1, f'"{i}"', long=i >= 3)
    for dtype in ["int32", "complex64"] if i % 2 else ["uint8", "bool", "int64"]:
        arrays = model_arrays()
        arrays[i] = arrays[i].astype(dtype)
        validate(save_model(f"{dtype}{i}.npz", arrays), 1, [f'"{i}"', f"{i}.npy"],
                 long=dtype not in ("int32", "uint8"))
    for bad in ["nan", "inf"]:
        arrays = model_arrays()
        arrays[i].reshape(-1)[len(arrays[i].reshape(-1)) // 2] = float(bad)
        validate(save_model(f"{bad}{i}.npz", arrays), 1, f'"{i}"', long=(bad == "inf") == (i % 2 == 0))
validate(save_model("keys.npz", model_arrays(), keys=["a", "b", "c", "d", "e", "f"]), 1, "keys.npz")
validate(save_model("keys1.npz", model_arrays(), keys=["1", "2", "3", "4", "5", "6"]), 1, '"6"')
validate(save_model("stored.npz", model_arrays()[:4], compressed=False), 1, "4 arrays")
np.savez(path("objects.npz"), **{str(i): np.array([None] * 3, dtype=object) for i in range(6)})
validate("objects.npz", 1, "objects.npz")
np.save(path("plain.npy"), np.zeros(3, np.float32))
validate("plain.npy", 1, "plain.npy")
validate(DATA, 1, DATA)
os.makedirs(path("adir.npz"), exist_ok=True)
validate("adir.npz", 1, "adir.npz")
validate("missing.npz", 1, "missing.npz")
with zipfile.ZipFile(path("txtmember.npz"), "w") as z:
    for i in range(6):
        z.writestr(f"{i}.txt", b"hello")
validate("txtmember.npz", 1, "txtmember.npz")

# ---- data files (validate reads train and test) -------------------------------------------
def bad_data(name, arrays, mention):
    save_data(name, arrays)
    case(f"data/{name}", "entry", ["validate", "{D}/" + GOOD, "{C}/out", "--data_path", "{D}/" + name],
         1, mention)


for key in ["x_train", "y_train", "x_test", "y_test"]:
    d = data()
    del d[key]
    bad_data(f"no-{key}.npz", d, key)
    d = data()
    d[key] = d[key][:0]
    bad_data(f"empty-{key}.npz", d, key)
    d = data()
    d[key] = d[key][: len(d[key]) // 2]
    bad_data(f"short-{key}.npz", d, key[1:])
for key in ["y_train", "y_test"]:
    for label in [-1, 10, 255]:
        d = data()
        d[key][3] = label
        bad_data(f"label{label}-{key}.npz", d, key)
    d = data()
    d[key] = d[key].astype(np.float32) + 0.5
    bad_data(f"fraclabel-{key}.npz", d, key)
    d = data()
    d[key] = np.stack([d[key], d[key]], axis=1)
    bad_data(f"twocol-{key}.npz", d, key)
for key in ["x_train", "x_test"]:
    d = data()
    d[key] = d[key][:, :27, :]
    bad_data(f"pixels-{key}.npz", d, key)
    d = data()
    d[key] = d[key].astype(np.float32)
    d[key][1, 2, 3] = np.nan
    bad_data(f"nanpixel-{key}.npz", d, key)
    d = data()
    d[key] = d[key].astype(np.complex64)
    bad_data(f"complex-{key}.npz", d, key)
with open(path("text-data.npz"), "w") as f:
    f.write("x,y\n1,2\n")
case("data/text", "entry", ["validate", "{D}/" + GOOD, "{C}/out", "--data_path", "{D}/text-data.npz"],
     1, "text-data.npz")
case("data/missing", "entry", ["validate", "{D}/" + GOOD, "{C}/out", "--data_path", "{D}/nope.npz"],
     1, "nope.npz")
case("data/env-missing", "entry", ["validate", "{D}/" + GOOD, "{C}/out"], 1, "envnope.npz",
     {"FEDN_DATA_PATH": "{D}/envnope.npz"})
case("data/dir", "entry", ["predict", "{D}/" + GOOD, "{C}/out", "--data_path", "{D}/adir.npz"],
     1, "adir.npz")

# ---- <in>-metadata (train reads the round's client settings) --------------------------------
META_CASES = {
    "notjson": ("{batch_size: 2}", "-metadata"),
    "array": ("[1, 2]", "-metadata"),
    "string": ('"x"', "-metadata"),
    "number": ("3", "-metadata"),
    "bom": ("\ufeff{}", "-metadata"),
    "trailing": ('{"epochs": 1,}', "-metadata"),
    "bs0": ('{"batch_size": 0}', "batch_size"),
    "bsneg": ('{"batch_size": -4}', "batch_size"),
    "bsfrac": ('{"batch_size": 1.5}', "batch_size"),
    "bsnan": ('{"batch_size": NaN}', "NaN"),
    "bsinf": ('{"batch_size": Infinity}', "Infinity"),
    "bsstr": ('{"batch_size": "abc"}', "batch_size"),
    "bsbool": ('{"batch_size": true}', "batch_size"),
    "bsnull": ('{"batch_size": null}', "batch_size"),
    "bslist": ('{"batch_size": [1]}', "batch_size"),
    "ep0": ('{"epochs": 0}', "epochs"),
    "epbig": ('{"epochs": 1e300}', "epochs"),
    "epnan": ('{"epochs": NaN}', "NaN"),
    "epstr": ('{"epochs": ""}', "epochs"),
    "lr0": ('{"learning_rate": 0}', "learning_rate"),
    "lrneg": ('{"lr": -0.1}', "lr"),
    "lrnan": ('{"learning_rate": NaN}', "NaN"),
    "lrinf": ('{"lr": -Infinity}', "-Infinity"),
    "lrstr": ('{"lr": "fast"}', "lr"),
}
for name, (text, mention) in META_CASES.items():
    model = f"meta-{name}.npz"
    with open(path(model), "wb") as f:
        f.write(good_bytes)
    with open(path(model + "-metadata"), "w", encoding="utf-8") as f:
        f.write(text)
    case(f"metadata/{name}", "entry",
         ["train", "{D}/" + model, "{C}/out", "--data_path", "{D}/" + DATA], 1, mention)

# ---- arguments --------------------------------------------------------------------------------
T = ["train", "{D}/" + GOOD, "{C}/out", "--data_path", "{D}/" + DATA]
V = ["validate", "{D}/" + GOOD, "{C}/out", "--data_path", "{D}/" + DATA]
ARG_CASES = [
    ("epochs-last", T + ["--epochs"], "--epochs"),
    ("epochs-then-lr", T + ["--epochs", "--lr", "0.1"], "--epochs"),
    ("batch-last", T + ["--batch_size"], "--batch_size"),
    ("lr-last", T + ["--lr"], "--lr"),
    ("seed-last", T + ["--seed"], "--seed"),
    ("seed-empty", T + ["--seed="], "--seed"),
    ("epochs-empty", T + ["--epochs="], "--epochs"),
    ("lr-empty", T + ["--lr="], "--lr"),
    ("data-empty", ["train", "{D}/" + GOOD, "{C}/out", "--data_path="], "--data_path"),
    ("data-last", ["train", "{D}/" + GOOD, "{C}/out", "--data_path"], "--data_path"),
    ("epochs-0", T + ["--epochs=0"], "--epochs"),
    ("epochs-neg", T + ["--epochs", "-1"], "--epochs"),
    ("epochs-frac", T + ["--epochs=1.5"], "--epochs"),
    ("epochs-hex", T + ["--epochs=0x10"], "0x10"),
    ("epochs-word", T + ["--epochs=two"], "two"),
    ("batch-0", T + ["--batch_size=0"], "--batch_size"),
    ("batch-huge", T + ["--batch_size=1e20"], "--batch_size"),
    ("epochs-overflow", T + ["--epochs=1e400"], "1e400"),
    ("lr-overflow", T + ["--lr", "-1e999"], "-1e999"),
    ("lr-0", T + ["--lr=0"], "--lr"),
    ("lr-nan", T + ["--lr=nan"], "--lr"),
    ("lr-inf", T + ["--lr=Infinity"], "--lr"),
    ("seed-neg", T + ["--seed=-1"], "--seed"),
    ("seed-frac", T + ["--seed=0.5"], "--seed"),
    ("seed-big", T + ["--seed=4294967296"], "--seed"),
    ("shuffle-maybe", T + ["--shuffle=maybe"], "--shuffle"),
    ("unknown", T + ["--epoch=2"], "--epoch"),
    ("unknown-short", T + ["-x"], "-x"),
    ("backend-gpu", T + ["--backend=gpu"], "gpu"),
    ("backend-empty", T + ["--backend="], "--backend"),
    ("extra-positional", T + ["surplus"], "surplus"),
    ("missing-out", ["train", "{D}/" + GOOD, "--data_path", "{D}/" + DATA], "out_model_path"),
    ("missing-both", ["validate"], "in_model_path"),
    ("validate-extra", V + ["more"], "more"),
    ("init-seed-neg", ["init_seed", "{C}/out", "--seed=-5"], "--seed"),
    ("init-seed-empty", ["init_seed", "{C}/out", "--seed="], "--seed"),
]
for name, args, mention in ARG_CASES:
    case(f"args/{name}", "entry", args, 2, mention)
case("args/unknown-command", "entry", ["fit", "{D}/" + GOOD, "{C}/out"], 2, "fit")
case("env/backend", "entry", T, 2, "FEDN_TFJS_BACKEND", {"FEDN_TFJS_BACKEND": "tpu"})

# ---- outputs the commands must refuse -----------------------------------------------------------
os.makedirs(path("outdir"), exist_ok=True)
OUT_CASES = [
    ("out-missing-dir", ["validate", "{D}/" + GOOD, "{C}/no/such/dir/o.json", "--data_path", "{D}/" + DATA], 1, "no/such/dir"),
    ("out-is-dir", ["validate", "{D}/" + GOOD, "{D}/outdir", "--data_path", "{D}/" + DATA], 1, "outdir"),
    ("out-is-input", ["validate", "{D}/" + GOOD, "{D}/" + GOOD, "--data_path", "{D}/" + DATA], 2, GOOD),
    ("out-is-data", ["validate", "{D}/" + GOOD, "{D}/" + DATA, "--data_path", "{D}/" + DATA], 2, DATA),
    ("train-out-is-input", ["train", "{D}/" + GOOD, "{D}/" + GOOD, "--data_path", "{D}/" + DATA], 2, GOOD),
    ("train-out-is-data", ["train", "{D}/" + GOOD, "{D}/" + DATA, "--data_path", "{D}/" + DATA], 2, DATA),
    ("predict-out-is-data", ["predict", "{D}/" + GOOD, "{D}/" + DATA, "--data_path", "{D}/" + DATA], 2, DATA),
    ("out-devnull-dir", ["init_seed", "{D}/outdir"], 1, "outdir"),
]
for name, args, status, mention in OUT_CASES:
    case(f"output/{name}", "entry", args, status, mention)

# ---- package files: fedn-tfjs run on folders and archives -----------------------------------------
ENTRY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "dist", "bin", "entrypoint.js"))
YAML = ("entry_points:\n  train:\n    command: node " + ENTRY + " train\n"
        "  validate:\n    command: node " + ENTRY + " validate\n")


def package_dir(name, yaml_text):
    d = path(name)
    os.makedirs(d, exist_ok=True)
    if yaml_text is not None:
        with open(os.path.join(d, "fedn.yaml"), "w") as f:
            f.write(yaml_text)
    return name


def tgz(name, members):
    """members: list of (TarInfo, bytes or None)."""
    with tarfile.open(path(name), "w:gz") as t:
        for info, content in members:
            t.addfile(info, io.BytesIO(content) if content is not None else None)
    return name


def file_member(name, content=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(content)
    return info, content


def special(name, kind, link=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info, None


yaml_member = file_member("client/fedn.yaml", YAML.encode())
many = [file_member(f"client/f{i}.txt") for i in range(300)]
PKG_CASES = [
    ("dotdot", [file_member("../x")] + many, "../x"),
    ("dotdot-late", [yaml_member, file_member("client/../../y")] + many, "../../y"),
    ("absolute", [file_member("/tmp/abs-evil")] + many, "/tmp/abs-evil"),
    ("hardlink-abs", [special("client/h", tarfile.LNKTYPE, "/etc/passwd"), file_member("client/h")] + many, "client/h"),
    ("symlink-out", [yaml_member, special("client/s", tarfile.SYMTYPE, "/etc")] + many, "client/s"),
    ("symlink-rel", [yaml_member, special("client/s", tarfile.SYMTYPE, "../..")] + many, "client/s"),
    ("fifo", [yaml_member, special("client/p", tarfile.FIFOTYPE)], "client/p"),
    ("chardev", [yaml_member, special("client/c", tarfile.CHRTYPE)], "client/c"),
    ("no-yaml", [file_member("client/readme.txt")], "fedn.yaml"),
]
for name, members, mention in PKG_CASES:
    archive = tgz(f"pkg-{name}.tgz", members)
    case(f"package/{name}", "cli",
         ["run", "validate", "-p", "{D}/" + archive, "-i", "{D}/" + GOOD, "-o", "{C}/out", "--no-startup"],
         1, mention)
with open(path("pkg-notgz.tgz"), "wb") as f:
    f.write(b"\x1f\x8b" + b"garbage" * 20)
open(path("pkg-empty.tgz"), "wb").close()
with open(path("pkg-plain.tgz"), "wb") as f:
    f.write(b"just text")
for name in ["notgz", "empty", "plain"]:
    case(f"package/{name}", "cli",
         ["run", "validate", "-p", "{D}/pkg-" + name + ".tgz", "-i", "{D}/" + GOOD, "-o", "{C}/out"],
         1, "pkg-" + name + ".tgz")
for name, text, mention in [
    ("yaml-bad", "entry_points: [unclosed\n", "fedn.yaml"),
    ("yaml-list", "- a\n- b\n", "fedn.yaml"),
    ("yaml-noentry", "entry_points:\n  train:\n    command: node x\n", "validate"),
    ("yaml-nocommand", "entry_points:\n  validate: {}\n", "fedn.yaml"),
    ("yaml-empty", "", "fedn.yaml"),
]:
    pkg = package_dir("pkgdir-" + name, text)
    case(f"package/{name}", "cli",
         ["run", "validate", "-p", "{D}/" + pkg, "-i", "{D}/" + GOOD, "-o", "{C}/out"], 1, mention)
OKPKG = package_dir("pkgdir-ok", YAML)
RUN = ["run", "validate", "-p", "{D}/" + OKPKG]
case("run/out-missing-dir", "cli", RUN + ["-i", "{D}/" + GOOD, "-o", "{C}/no/such/dir/o.npz"], 1, "no/such/dir")
case("run/out-is-input", "cli", RUN + ["-i", "{D}/" + GOOD, "-o", "{D}/" + GOOD], 2, GOOD)
case("run/in-missing", "cli", RUN + ["-i", "{D}/absent.npz", "-o", "{C}/out"], 1, "absent.npz")
case("run/no-input", "cli", RUN + ["-o", "{C}/out"], 2, "-i")
case("run/path-missing", "cli", ["run", "validate", "-p", "{D}/nowhere", "-i", "{D}/" + GOOD, "-o", "{C}/out"], 1, "nowhere")
case("run/bad-settings", "cli", ["run", "train", "-p", "{D}/" + OKPKG, "-i", "{D}/" + GOOD, "-o", "{C}/out", "--client_settings", "[1"], 2, "--client-settings")
case("run/settings-list", "cli", ["run", "train", "-p", "{D}/" + OKPKG, "-i", "{D}/" + GOOD, "-o", "{C}/out", "--client_settings", "[1]"], 2, "--client-settings")
case("run/shell", "cli", RUN + ["-i", "{D}/" + GOOD, "-o", "{C}/out", "--shell", "zsh"], 2, "--shell")
case("run/output-value", "cli", RUN + ["-i", "{D}/" + GOOD, "-o"], 2, "--output")
case("run/bz2", "cli", ["run", "validate", "-p", "{D}/" + GOOD, "-i", "{D}/" + GOOD, "-o", "{C}/out"], 2, GOOD)
case("package/create-missing", "cli", ["package", "create", "-p", "{D}/nowhere", "-o", "{C}"], 1, "nowhere")
case("package/create-name", "cli", ["package", "create", "-p", "{D}/" + OKPKG, "-o", "{C}", "--name", "p.tar.gz"], 2, "p.tar.gz")
case("package/create-outdir", "cli", ["package", "create", "-p", "{D}/" + OKPKG, "-o", "{C}/none"], 1, "none")
case("simulate/clients", "cli", ["simulate", "-p", "{D}/" + OKPKG, "--clients", "0", "--out", "{C}/sim"], 2, "--clients")
case("simulate/data-missing", "cli", ["simulate", "-p", "{D}/" + OKPKG, "--seed_model", "{D}/absent.npz", "--out", "{C}/sim"], 1, "data/clients/1/mnist.npz")

with open(path("cases.json"), "w") as f:
    json.dump(cases, f, indent=1)
print(len(cases))
