/**
 * `fedn-tfjs client` end to end against a fake controller and combiner of our own (loopback):
 * assignment (a 203 first) -> package download with checksum -> startup -> 3 rounds of train,
 * validate, predict -> the combiner dies and comes back, the client resubscribes -> failing
 * rounds (a bad model, an entry point that exits 1, one that hangs past --task-timeout) with the
 * client still serving the next round -> shutdown in the middle of a task. In process: a package
 * whose model and data are kept between rounds (round 2 equal to a fresh run) with per-step
 * `SendModelMetric`s (the library's `inProcess: pkg`), and examples/mnist-keras through the bin's
 * `client start --in-process` (its bundle imported into the client) for two rounds on one live
 * model, then SIGTERM in the middle of an update. Every model the client uploads is checked with
 * numpy; every message against what FEDn v0.33.0's combiner reads.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mnistKeras from "../examples/mnist-keras/package.js";
import { startClient } from "../src/client/client.js";
import type { SessionSummary } from "../src/client/session.js";
import { type Dataset, sliceRows } from "../src/data/dataset.js";
import { loadMnistPackage, saveDataset } from "../src/data/files.js";
import { defineComputePackage, denseStack, mnistNpz } from "../src/index.js";
import { createPackage } from "../src/tools/archive.js";
import { buildPackage } from "../src/tools/bundle.js";
import {
  assignedAnswer,
  FakeCombiner,
  FakeController,
  metricRows,
  type SeenCall,
  wireFields,
  wireString,
} from "./fixtures/fedn-fakes.js";
import { numpyMissing, python } from "./fixtures/python.js";

const repo = resolve(import.meta.dirname, "..");
const entrypoint = join(repo, "dist", "bin", "entrypoint.js");
const CLIENT_ID = "3f0c7a4e-client-one";
const TOKEN = "secret-token";

let dir: string;
let pkgBytes: Buffer;
let seed: Buffer;

/** The package's entry points: the MNIST drop-in, behind a switch the test flips (`mode`). */
const HOOKS = `set -e
entry=$1; shift
if [ "$entry" = startup ]; then echo ran >> "$FAKE_DIR/startup-count"; exit 0; fi
mode=$(cat "$FAKE_DIR/mode" 2>/dev/null || echo ok)
case "$mode" in
  exit) echo "failing on purpose" >&2; exit 1;;
  hang) sleep 120 & echo $! > "$FAKE_DIR/sleep.pid"; wait;;
esac
exec node "$ENTRYPOINT" "$entry" --data_path "$DATA_FILE" "$@"
`;

function slice(d: Dataset, n: number, m: number): Dataset {
  return {
    x_train: sliceRows(d.x_train, 0, n),
    y_train: sliceRows(d.y_train, 0, n),
    x_test: sliceRows(d.x_test, 0, m),
    y_test: sliceRows(d.y_test, 0, m),
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fedn-tfjs-client-"));
  const pkg = join(dir, "pkg");
  await mkdir(pkg);
  await writeFile(join(pkg, "hooks.sh"), HOOKS);
  await writeFile(
    join(pkg, "fedn.yaml"),
    ["startup", "train", "validate", "predict"].reduce(
      (y, e) => `${y}  ${e}:\n    command: bash hooks.sh ${e}\n`,
      "entry_points:\n",
    ),
  );
  const created = await createPackage({ path: pkg, output: dir, name: "package.tgz" });
  pkgBytes = await readFile(created.file);
  await saveDataset(slice(await loadMnistPackage(), 200, 100), join(dir, "data.npz"));
  execFileSync("node", [entrypoint, "init_seed", join(dir, "seed.npz"), "--seed", "5"]);
  seed = await readFile(join(dir, "seed.npz"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(
  what: string,
  test: () => boolean | Promise<boolean>,
  ms = 20_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Sender/receiver as FEDn's combiner reads them (`fedn.Client`: role 1, name 2, client_id 3). The
 * token travels to an insecure combiner only with `insecureToken` (FEDn: only with TLS).
 */
function expectSender(call: SeenCall, withId = true, token?: string): void {
  const sender = wireFields(call.raw).get(1)?.[0] as Buffer;
  const f = wireFields(sender);
  expect(f.get(1)?.[0]).toBe(1); // Role.CLIENT
  expect(wireString(f, 2)).toBe("node1");
  if (withId) expect(wireString(f, 3)).toBe(CLIENT_ID);
  // grpc_handler.py: GrpcHandler metadata — ("client", <client id>), ("grpc-server", <combiner>).
  expect(call.metadata.client).toBe(CLIENT_ID);
  expect(call.metadata["grpc-server"]).toBe("127.0.0.1");
  expect(call.metadata.authorization).toBe(token === undefined ? undefined : `Bearer ${token}`);
}

describe.skipIf(numpyMissing() !== "")("fedn-tfjs client against a fake FEDn network", () => {
  it("serves rounds, survives a combiner restart and failing rounds, and stops cleanly", async () => {
    const combiner = new FakeCombiner();
    const port = await combiner.start();
    const controller = new FakeController({ name: "package.tgz", bytes: pkgBytes });
    controller.addAnswers = [
      // fedn_client.py: connect_to_api — 203 means "no compute package yet": retried.
      {
        status: 203,
        body: { success: false, status: "retry", message: "No compute package found." },
      },
      // client_routes.py: add_client's 200 payload.
      assignedAnswer(port, CLIENT_ID),
    ];
    const api = await controller.start();
    const fake = join(dir, "run");
    await mkdir(fake, { recursive: true });
    const log: string[] = [];
    const events: string[] = [];
    let packageDir = "";
    const stop = new AbortController();
    const running: Promise<SessionSummary> = startClient({
      apiUrl: api,
      token: TOKEN,
      name: "node1",
      clientId: CLIENT_ID,
      taskTimeout: 10,
      retryInterval: 0.05,
      heartbeatInterval: 0.2,
      telemetryInterval: 0.3,
      verbose: true,
      signal: stop.signal,
      env: {
        ...process.env,
        FAKE_DIR: fake,
        ENTRYPOINT: entrypoint,
        DATA_FILE: join(dir, "data.npz"),
      },
      cwd: dir,
      log: { write: (t: string) => log.push(t) },
      onEvent: (e) => {
        events.push(e.type === "task" ? `${e.kind}:${e.ok}` : e.type);
        if (e.type === "ready") packageDir = e.packageDir;
      },
    });
    try {
      // --- Assignment and package: connect.py / fedn_client.py / package_runtime.py.
      await until("the task stream", () => combiner.subscribed(CLIENT_ID));
      const adds = controller.seen.filter((s) => s.path === "/api/v1/clients/add");
      expect(adds).toHaveLength(2);
      expect(adds[0]?.body).toEqual({
        name: "node1",
        client_id: CLIENT_ID,
        preferred_combiner: "",
        combiner_preferred: "",
        package: "remote",
      });
      for (const s of controller.seen) expect(s.authorization).toBe(`Bearer ${TOKEN}`);
      expect(controller.seen.map((s) => s.path)).toContain("/api/v1/packages/checksum");
      expect(await readFile(join(fake, "startup-count"), "utf8")).toBe("ran\n");

      // --- TaskStream and heartbeats: ClientAvailableMessage.sender and Heartbeat.sender.
      const subscribe = await combiner.waitFor("TaskStream");
      expectSender(subscribe);
      expectSender(await combiner.waitFor("SendHeartbeat"));
      const telemetry = await combiner.waitFor("SendTelemetryMessage");
      const keys = (wireFields(telemetry.raw).get(2) ?? []).map((b) =>
        wireString(wireFields(b as Buffer), 1),
      );
      expect(keys).toEqual(["memory_usage", "cpu_usage"]);

      // --- Three rounds of train, validate, predict.
      combiner.models.set("global-0", seed);
      const updates: string[] = [];
      let global = "global-0";
      const trainRound = async (round: number, settings: Record<string, unknown>) => {
        const from = combiner.calls.length;
        const config = JSON.stringify({
          round_id: String(round),
          client_settings: settings,
          session_id: "s1",
        });
        combiner.send(CLIENT_ID, {
          model_id: global,
          type: 2,
          data: config,
          correlation_id: `c${round}`,
          session_id: "s1",
        });
        const call = await combiner.waitFor("SendModelUpdate", () => true, from);
        expectSender(call);
        const w = wireFields(call.raw);
        // fedn.ModelUpdate: receiver 2, model_id 3, model_update_id 4, timestamp 6, meta 7.
        const receiver = wireFields(w.get(2)?.[0] as Buffer);
        expect(wireString(receiver, 2)).toBe("combiner");
        expect(receiver.get(1)?.[0]).toBe(2);
        expect(wireString(w, 3)).toBe(global);
        const updateId = wireString(w, 4) as string;
        expect(wireString(w, 6)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00$/);
        // updatehandler.py: _validate_model_update reads meta["training_metadata"]["num_examples"];
        // load_model_update reads json.loads(meta["config"])["round_id"].
        const meta = JSON.parse(wireString(w, 7) as string);
        expect(meta.training_metadata.num_examples).toBe(200);
        expect(JSON.parse(meta.config).round_id).toBe(String(round));
        for (const k of ["exec_training", "processing_time", "upload_model", "fetch_model"]) {
          expect(typeof meta[k]).toBe("number");
        }
        // modelservice.py: Upload — the chunks carry the update id, IN_PROGRESS then an empty OK.
        const chunks = combiner.uploads.get(updateId) ?? [];
        expect(chunks.at(-1)?.status).toBe(0);
        expect(chunks.at(-1)?.data.length).toBe(0);
        expect(chunks.slice(0, -1).every((c) => c.status === 1 && c.id === updateId)).toBe(true);
        expect(combiner.models.has(updateId)).toBe(true);
        const completed = await combiner.waitFor(
          "SendStatus",
          (c) => wireString(wireFields(c.raw), 2) === "Model update completed.",
          from,
        );
        expect(wireFields(completed.raw).get(3)?.[0]).toBe(5); // LogLevel.AUDIT
        expect(wireFields(completed.raw).get(7)?.[0]).toBe(2); // StatusType.MODEL_UPDATE
        updates.push(updateId);
        global = updateId;
        return meta;
      };
      for (let round = 1; round <= 3; round++) {
        const meta = await trainRound(round, { epochs: 1, batch_size: 16 });
        expect(meta.training_metadata.batch_size).toBe(16); // client settings reached train
        let from = combiner.calls.length;
        combiner.send(CLIENT_ID, {
          model_id: global,
          type: 4,
          correlation_id: `v${round}`,
          session_id: "s1",
        });
        const validation = await combiner.waitFor("SendModelValidation", () => true, from);
        expectSender(validation);
        // fedn.ModelValidation: model_id 3, data 4 (JSON), correlation_id 5, timestamp 6, session_id 8.
        const v = wireFields(validation.raw);
        expect(wireString(v, 3)).toBe(global);
        const metrics = JSON.parse(wireString(v, 4) as string);
        expect(Object.keys(metrics).sort()).toEqual([
          "test_accuracy",
          "test_loss",
          "training_accuracy",
          "training_loss",
        ]);
        expect(wireString(v, 5)).toBe(`v${round}`);
        expect(wireFields(v.get(6)?.[0] as Buffer).get(1)?.[0]).toBeGreaterThan(1.7e9);
        expect(wireString(v, 8)).toBe("s1");
        from = combiner.calls.length;
        combiner.send(CLIENT_ID, {
          model_id: global,
          type: 5,
          data: "{}",
          correlation_id: `p${round}`,
          session_id: `pred${round}`,
        });
        const prediction = await combiner.waitFor("SendModelPrediction", () => true, from);
        expectSender(prediction);
        // fedn.ModelPrediction: model_id 3, data 4, correlation_id 5, prediction_id 8 (= session_id).
        const p = wireFields(prediction.raw);
        expect(wireString(p, 3)).toBe(global);
        expect(JSON.parse(wireString(p, 4) as string).predicted_class).toHaveLength(100);
        expect(wireString(p, 5)).toBe(`p${round}`);
        expect(wireString(p, 8)).toBe(`pred${round}`);
      }

      // --- The combiner dies; the client resubscribes when it is back on the same port.
      combiner.kill();
      await until("the client to notice", () => events.includes("stream-lost"));
      await new Promise((r) => setTimeout(r, 300));
      await combiner.start(port);
      await until("resubscription", () => combiner.subscribed(CLIENT_ID));
      await trainRound(4, {});

      // --- Failing rounds: each is reported with a Status at ERROR, no update is sent, and the
      // client serves the next round (FEDn 0.33's own client loses its task stream here).
      const failRound = async (setup: () => Promise<void>, reason: RegExp) => {
        await setup();
        const from = combiner.calls.length;
        combiner.send(CLIENT_ID, {
          model_id: global,
          type: 2,
          data: JSON.stringify({ round_id: "x" }),
          session_id: "s1",
        });
        const status = await combiner.waitFor(
          "SendStatus",
          (c) => wireFields(c.raw).get(3)?.[0] === 4, // LogLevel.ERROR
          from,
        );
        const s = wireFields(status.raw);
        expect(wireString(s, 2)).toMatch(reason);
        expect(s.get(7)?.[0]).toBe(2); // StatusType.MODEL_UPDATE
        expect(wireString(s, 9)).toBe("s1");
        expect(combiner.calls.slice(from).some((c) => c.method === "SendModelUpdate")).toBe(false);
        await rm(join(fake, "mode"), { force: true });
      };
      await failRound(async () => {
        combiner.models.set("bad", Buffer.from("this is not an npz file"));
        global = "bad";
      }, /failed to complete model training: train exited with status 1/);
      global = updates.at(-1) as string;
      await failRound(() => writeFile(join(fake, "mode"), "exit"), /train exited with status 1/);
      await failRound(() => writeFile(join(fake, "mode"), "hang"), /did not finish within 10 s/);
      const hung = Number(await readFile(join(fake, "sleep.pid"), "utf8"));
      await until("the hung command's group to be stopped", () => !pidAlive(hung));
      await trainRound(5, {});

      // --- Shutdown in the middle of a task: the entry point is stopped, nothing is sent.
      await writeFile(join(fake, "mode"), "hang");
      await rm(join(fake, "sleep.pid"), { force: true });
      const from = combiner.calls.length;
      combiner.send(CLIENT_ID, { model_id: global, type: 2, data: "{}", session_id: "s1" });
      await until("the hanging task", () =>
        stat(join(fake, "sleep.pid")).then(
          () => true,
          () => false,
        ),
      );
      const sleeping = Number(await readFile(join(fake, "sleep.pid"), "utf8"));
      stop.abort();
      const summary = await running;
      expect(summary).toMatchObject({ updates: 5, validations: 3, predictions: 3, failed: 3 });
      expect(summary.reconnects).toBeGreaterThanOrEqual(1);
      await until("the stopped command's group to be gone", () => !pidAlive(sleeping));
      await until("the stream's end on the combiner", () =>
        combiner.calls.slice(from).some((c) => c.method === "TaskStream.cancelled"),
      );
      expect(
        combiner.calls
          .slice(from)
          .some((c) => c.method === "SendModelUpdate" || c.method.startsWith("Upload")),
      ).toBe(false);
      expect(
        await stat(packageDir).then(
          () => true,
          () => false,
        ),
      ).toBe(false);

      // --- numpy reads every uploaded model: keys 0..5, the MNIST shapes, float32, finite, and
      // each round's model differs from the one it started from.
      const files = [join(dir, "seed.npz")];
      for (const [i, id] of updates.entries()) {
        const file = join(dir, `update-${i}.npz`);
        await writeFile(file, combiner.models.get(id) as Buffer);
        files.push(file);
      }
      const out = python(
        `
shapes = [(64, 784), (64,), (32, 64), (32,), (10, 32), (10,)]
prev = None
for f in sys.argv[1:]:
    z = np.load(f)
    assert sorted(z.files) == [str(i) for i in range(6)], z.files
    arrs = [z[str(i)] for i in range(6)]
    assert [a.shape for a in arrs] == shapes, [a.shape for a in arrs]
    assert all(a.dtype == np.float32 and np.isfinite(a).all() for a in arrs)
    if prev is not None and f.endswith(('update-0.npz', 'update-1.npz', 'update-2.npz')):
        assert any(not np.array_equal(a, b) for a, b in zip(arrs, prev))
    prev = arrs
print(len(sys.argv) - 1)
`,
        files,
      );
      expect(out.trim()).toBe("6");
      const text = log.join("");
      expect(text).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[INFO\] /m);
      expect(text).toContain("[DEBUG]");
      expect(text).toContain("The token is not sent to the combiner over an insecure channel");
    } catch (error) {
      // The client's own log says what it was doing when the test gave up.
      (error as Error).message += `\n--- client log (tail) ---\n${log.join("").slice(-4000)}`;
      throw error;
    } finally {
      stop.abort();
      await running.catch(() => undefined);
      combiner.kill();
      await controller.stop();
    }
  });
});

describe.skipIf(numpyMissing() !== "")("fedn-tfjs client with an in-process package", () => {
  it("keeps model and data between rounds, sends per-step metrics, and round 2 equals a fresh run", async () => {
    // The MNIST drop-in's data and model, counted: how often the data is decoded and the model
    // built. Dropout is seeded so that two runs can be compared.
    let loads = 0;
    let builds = 0;
    const data = mnistNpz({ features: 784, classes: 10 });
    const kind = denseStack({ units: [784, 64, 32, 10], dropout: [0.5, 0] });
    const counted = defineComputePackage({
      name: "counted-mnist",
      describe: "the MNIST drop-in, counting data loads and model builds",
      dataFile: "mnist.npz",
      data: {
        ...data,
        load(bytes, o) {
          loads++;
          return data.load(bytes, o);
        },
      },
      model: {
        ...kind,
        load(tf, w, f) {
          builds++;
          return kind.load(tf, w, f);
        },
      },
      defaults: { batchSize: 32, epochs: 1, lr: 0.01 },
      train: ({ tf, kind: k, model, train, loop }) =>
        k.train(tf, model, train, { ...loop, seed: 11 }),
    });
    const combiner = new FakeCombiner();
    const port = await combiner.start();
    const pkg = join(dir, "inproc");
    await mkdir(pkg, { recursive: true });
    await writeFile(join(pkg, "fedn.yaml"), "entry_points:\n  train:\n    command: 'false'\n");
    const stop = new AbortController();
    const log: string[] = [];
    const env = { ...process.env, FEDN_DATA_PATH: join(dir, "data.npz") };
    const running = startClient({
      combiner: "127.0.0.1",
      combinerPort: port,
      name: "node1",
      clientId: CLIENT_ID,
      localPackage: pkg,
      retryInterval: 0.05,
      telemetryInterval: 0,
      inProcess: counted,
      signal: stop.signal,
      env,
      cwd: dir,
      log: { write: (t: string) => log.push(t) },
    });
    const round = async (model: string, n: number) => {
      const from = combiner.calls.length;
      combiner.send(CLIENT_ID, {
        model_id: model,
        type: 2,
        data: JSON.stringify({ round_id: `r${n}`, client_settings: { batch_size: 50 } }),
        session_id: "s",
      });
      const update = await combiner.waitFor("SendModelUpdate", () => true, from);
      const id = wireString(wireFields(update.raw), 4) as string;
      combiner.send(CLIENT_ID, { model_id: id, type: 4, session_id: "s" });
      await combiner.waitFor("SendModelValidation", () => true, from);
      combiner.send(CLIENT_ID, { model_id: id, type: 5, data: "{}", session_id: "p" });
      await combiner.waitFor("SendModelPrediction", () => true, from);
      return { id, calls: combiner.calls.slice(from) };
    };
    try {
      await until("the task stream", () => combiner.subscribed(CLIENT_ID));
      combiner.models.set("seed", seed);
      const first = await round("seed", 1);
      // 200 samples in batches of 50: 4 steps; the loss goes out at the steps the kit logs
      // (batch 0, every 100th) and the last, before the update.
      const metrics = first.calls.filter((c) => c.method === "SendModelMetric");
      for (const call of metrics) expectSender(call);
      const rows = metrics.flatMap((c) => metricRows(c.raw));
      expect(rows.map((r) => [r.key, r.step, r.model_id, r.round_id, r.session_id])).toEqual([
        ["train_loss", 0, "seed", "r1", "s"],
        ["train_loss", 3, "seed", "r1", "s"],
      ]);
      for (const r of rows) {
        expect(r.value).toBeGreaterThan(0);
        expect(Number.isFinite(r.value)).toBe(true);
        expect(r.sender).toEqual({ name: "node1", role: 1, client_id: CLIENT_ID });
        expect(r.seconds).toBeGreaterThan(1.7e9);
      }
      const updateAt = first.calls.findIndex((c) => c.method === "SendModelUpdate");
      expect(first.calls.findLastIndex((c) => c.method === "SendModelMetric")).toBeLessThan(
        updateAt,
      );
      const afterFirst = loads;
      expect(builds).toBe(1);
      const second = await round(first.id, 2);
      // Round 2 decoded no data and built no model: the weights went into the live model.
      expect(loads).toBe(afterFirst);
      expect(builds).toBe(1);
      expect(
        second.calls
          .filter((c) => c.method === "SendModelMetric")
          .flatMap((c) => metricRows(c.raw).map((r) => r.round_id)),
      ).toEqual(["r2", "r2"]);

      // A fresh run of the same command on the same inputs writes the same weights (FEDn's
      // contract: the output depends only on the input model and the settings).
      const input = join(dir, "round1.npz");
      await writeFile(input, combiner.models.get(first.id) as Buffer);
      await writeFile(`${input}-metadata`, JSON.stringify({ batch_size: 50 }));
      const sink = { write: () => true };
      const status = await counted.run(["train", input, join(dir, "fresh.npz")], {
        stdout: sink,
        stderr: sink,
        env,
        cwd: dir,
      });
      expect(status).toBe(0);
      expect(builds).toBe(2);
      await writeFile(join(dir, "round2.npz"), combiner.models.get(second.id) as Buffer);
      const same = python(
        "a, b = np.load(sys.argv[1]), np.load(sys.argv[2]); print(sorted(a.files) == sorted(b.files) and all(np.array_equal(a[k], b[k]) for k in a.files), any(not np.array_equal(a[k], np.load(sys.argv[3])[k]) for k in a.files))",
        [join(dir, "round2.npz"), join(dir, "fresh.npz"), input],
      );
      expect(same.trim()).toBe("True True");
      expect(log.join("")).toContain("Running train in process");
    } catch (error) {
      (error as Error).message += `\n--- client log (tail) ---\n${log.join("").slice(-3000)}`;
      throw error;
    } finally {
      stop.abort();
      await running.catch(() => undefined);
      combiner.kill();
    }
  });

  it("runs examples/mnist-keras through `client start --in-process`: two rounds on one live model, per-step metrics, SIGTERM", async () => {
    // The example as FEDn gets it: bundled, archived with its fedn.yaml, served by the controller;
    // the bin imports the bundle into its own process (its main() hands the package over).
    const pkg = join(dir, "keras");
    await buildPackage({
      entry: join(repo, "examples", "mnist-keras", "entrypoint.ts"),
      outDir: join(pkg, "dist"),
      minify: false, // a second faster
    });
    await writeFile(
      join(pkg, "fedn.yaml"),
      await readFile(join(repo, "examples", "mnist-keras", "fedn.yaml")),
    );
    const tgz = await createPackage({ path: pkg, output: dir, name: "keras.tgz" });
    const combiner = new FakeCombiner();
    const port = await combiner.start();
    const controller = new FakeController({ name: "keras.tgz", bytes: await readFile(tgz.file) });
    controller.addAnswers = [assignedAnswer(port, CLIENT_ID)];
    const api = await controller.start();
    const bin = join(repo, "dist", "bin", "cli.js");
    // $ENTRYPOINT_OPTS in fedn.yaml's commands reaches the package as bash would expand it: its
    // --data_path (100 samples) wins over FEDN_DATA_PATH (200, what startup checks).
    await saveDataset(slice(await loadMnistPackage(), 100, 100), join(dir, "data-100.npz"));
    const child = spawn(
      "node",
      [
        bin,
        "client",
        "start",
        "--api-url",
        api,
        "--token",
        TOKEN,
        "--insecure-token",
        "--attributes",
        "runtime=node,site=lab 1",
        "--name",
        "node1",
        "--client-id",
        CLIENT_ID,
        "--retry-interval",
        "0.05",
        "--in-process",
        "--verbose",
      ],
      {
        cwd: dir,
        env: {
          ...process.env,
          FEDN_DATA_PATH: join(dir, "data.npz"),
          ENTRYPOINT_OPTS: `--data_path ${join(dir, "data-100.npz")}`,
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let log = "";
    let stdout = "";
    child.stderr.on("data", (d: Buffer) => {
      log += d.toString();
    });
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    const exited = new Promise<number | null>((ok) => child.on("close", (code) => ok(code)));
    // The seed model, written here while the client starts.
    const keras = join(dir, "keras-seed.npz");
    const sink = { write: () => true };
    const ctx = { stdout: sink, stderr: sink, env: process.env, cwd: dir };
    const seeded = mnistKeras.run(["init_seed", keras, "--seed", "3"], ctx);
    try {
      await until("the task stream", () => combiner.subscribed(CLIENT_ID), 60_000);
      // startup ran from the bundle, as FEDn runs it, and checked this client's data.
      expect(log).toContain("Done executing startup");
      expect(log).toContain("train, validate and predict in process (mnist-keras)");
      // fedn.AttributeMessage: sender 1, attributes 2 (AttributeElem: key 1, value 2), timestamp 3.
      const attributes = await combiner.waitFor("SendAttributeMessage");
      expectSender(attributes, true, TOKEN);
      const a = wireFields(attributes.raw);
      expect(
        (a.get(2) ?? []).map((b) => {
          const e = wireFields(b as Buffer);
          return [wireString(e, 1), wireString(e, 2)];
        }),
      ).toEqual([
        ["runtime", "node"],
        ["site", "lab 1"],
      ]);
      expect(wireFields(a.get(3)?.[0] as Buffer).get(1)?.[0]).toBeGreaterThan(1.7e9);
      expect(await seeded).toBe(0);
      combiner.models.set("k0", await readFile(keras));
      const models = [keras];
      let global = "k0";
      for (const round of [1, 2]) {
        const from = combiner.calls.length;
        combiner.send(CLIENT_ID, {
          model_id: global,
          type: 2,
          data: JSON.stringify({ round_id: String(round), client_settings: { batch_size: 25 } }),
          session_id: "s",
        });
        const update = await combiner.waitFor("SendModelUpdate", () => true, from);
        expectSender(update, true, TOKEN);
        const meta = JSON.parse(wireString(wireFields(update.raw), 7) as string);
        expect(meta.training_metadata).toMatchObject({ num_examples: 100, batch_size: 25 });
        // 100 samples in batches of 25: the loss of steps 0 and 3, sent before the update.
        const calls = combiner.calls.slice(from);
        const metrics = calls.filter((c) => c.method === "SendModelMetric");
        for (const call of metrics) expectSender(call, true, TOKEN);
        const rows = metrics.flatMap((c) => metricRows(c.raw));
        expect(rows.map((r) => [r.key, r.step, r.model_id, r.round_id, r.session_id])).toEqual([
          ["train_loss", 0, global, String(round), "s"],
          ["train_loss", 3, global, String(round), "s"],
        ]);
        for (const r of rows) {
          expect(Number.isFinite(r.value) && r.value > 0).toBe(true);
          expect(r.sender).toEqual({ name: "node1", role: 1, client_id: CLIENT_ID });
        }
        expect(calls.findLastIndex((c) => c.method === "SendModelMetric")).toBeLessThan(
          calls.indexOf(update),
        );
        global = wireString(wireFields(update.raw), 4) as string;
        const file = join(dir, `keras-update-${round}.npz`);
        await writeFile(file, combiner.models.get(global) as Buffer);
        models.push(file);
        combiner.send(CLIENT_ID, { model_id: global, type: 4, session_id: "s" });
        const validation = await combiner.waitFor("SendModelValidation", () => true, from);
        expect(
          Object.keys(JSON.parse(wireString(wireFields(validation.raw), 4) as string)).sort(),
        ).toEqual(["test_accuracy", "test_loss", "training_accuracy", "training_loss"]);
        combiner.send(CLIENT_ID, { model_id: global, type: 5, data: "{}", session_id: "p" });
        const prediction = await combiner.waitFor("SendModelPrediction", () => true, from);
        expect(
          JSON.parse(wireString(wireFields(prediction.raw), 4) as string).predictions,
        ).toHaveLength(100);
      }
      // numpy: the Keras layout, float32, finite, and each round moved the model.
      const checked = python(
        "ms = [np.load(f) for f in sys.argv[1:]]; a = [[z[str(i)] for i in range(len(z.files))] for z in ms]; print([x.shape for x in a[1]] == [x.shape for x in a[2]], [x.shape for x in a[2]], all(x.dtype == np.float32 and np.isfinite(x).all() for m in a for x in m), all(any(not np.array_equal(x, y) for x, y in zip(p, q)) for p, q in zip(a, a[1:])))",
        models,
      );
      expect(checked.trim()).toBe(
        "True [(784, 64), (64,), (64, 32), (32,), (32, 10), (10,)] True True",
      );
      // Only round 1 built the model and decoded the data (validate adds the test split).
      expect(
        [...log.matchAll(/\[DEBUG\] (\w+) in process: (.*)$/gm)].map((m) => `${m[1]}: ${m[2]}`),
      ).toEqual([
        "train: built the model, decoded the data file",
        "validate: kept the model, decoded the data file",
        "predict: kept the model, kept the data",
        "train: kept the model, kept the data",
        "validate: kept the model, kept the data",
        "predict: kept the model, kept the data",
      ]);
      expect(log).toContain("Sending the token to the combiner over an insecure channel");

      // SIGTERM in the middle of an in-process update: the command cannot be stopped half-way,
      // so it finishes and its result is dropped; nothing is uploaded or sent.
      const from = combiner.calls.length;
      const before = log.length;
      combiner.send(CLIENT_ID, {
        model_id: global,
        type: 2,
        data: JSON.stringify({ round_id: "3", client_settings: { epochs: 10 } }),
        session_id: "s",
      });
      await until("the in-process train", () =>
        log.slice(before).includes("Running train in process"),
      );
      const running = log.length;
      child.kill("SIGTERM");
      expect(await exited).toBe(143);
      expect(log.slice(running)).toContain("stopped: the client is shutting down");
      expect(
        combiner.calls
          .slice(from)
          .some((c) => c.method === "SendModelUpdate" || c.method.startsWith("Upload")),
      ).toBe(false);
      expect(stdout).toMatch(
        /^2 model update\(s\), 2 validation\(s\), 2 prediction\(s\), 0 failed/m,
      );
    } catch (error) {
      (error as Error).message += `\n--- client log (tail) ---\n${log.slice(-3000)}`;
      throw error;
    } finally {
      child.kill("SIGKILL");
      combiner.kill();
      await controller.stop();
    }
  });
});
