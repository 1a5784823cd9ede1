/**
 * `fedn-tfjs client` options and the controller's answers, each rule as FEDn v0.33.0 has it
 * (`fedn/cli/client_cmd.py`, `fedn/network/clients/fedn_client.py: connect_to_api`,
 * `connect.py: refresh_token`, `package_runtime.py`), plus a TLS channel with call credentials.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startClient } from "../src/client/client.js";
import { completeApiUrl, resolveClientConfig } from "../src/client/config.js";
import { Controller } from "../src/client/controller.js";
import { fednLogger } from "../src/client/log.js";
import { runCli } from "../src/kit/cli.js";
import clientStart, { fednClientArgv } from "../src/tools/client.js";
import { FakeCombiner, FakeController, wireFields, wireString } from "./fixtures/fedn-fakes.js";

let dir: string;
const env = {};
const quiet = fednLogger({ write: () => undefined });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fedn-tfjs-client-options-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("client options", () => {
  it("takes the command line over the -in YAML file, and FEDn's old discover_* names", async () => {
    const yaml = join(dir, "client.yaml");
    await writeFile(
      yaml,
      "discover_host: ctrl.example.org\ndiscover_port: 9000\ntoken: from-file\nname: filename\nclient_id: abc\nhelper_type: numpyhelper\nlogfile: x\ninsecure_token: true\n",
    );
    const config = await resolveClientConfig(
      { init: "client.yaml", name: "cli-name" },
      { env, cwd: dir },
    );
    expect(config.apiBase).toBe("https://ctrl.example.org:9000");
    expect(config.token).toBe("from-file");
    expect(config.name).toBe("cli-name");
    expect(config.clientId).toBe("abc");
    expect(config.ignoredKeys.sort()).toEqual(["helper_type", "logfile"]);
    expect(config.authScheme).toBe("Bearer");
    expect(config.insecureToken).toBe(true);
    // --attributes: KEY=VALUE pairs; the combiner refuses an attribute without a value.
    const withAttributes = await resolveClientConfig(
      { apiUrl: "localhost", attributes: "site=lab 1, gpu=no" },
      { env, cwd: dir },
    );
    expect(withAttributes.attributes).toEqual({ site: "lab 1", gpu: "no" });
    await expect(
      resolveClientConfig({ apiUrl: "localhost", attributes: "site" }, { env, cwd: dir }),
    ).rejects.toThrow(/--attributes expects KEY=VALUE.*found site$/);
  });

  it("completes the URL as FEDn does and honours FEDN_* variables", async () => {
    expect(completeApiUrl("localhost")).toBe("http://localhost");
    expect(completeApiUrl("fedn.example.org")).toBe("https://fedn.example.org");
    const config = await resolveClientConfig(
      { apiUrl: "127.0.0.1", apiPort: "8092" },
      {
        env: {
          FEDN_AUTH_SCHEME: "Token",
          FEDN_CUSTOM_URL_PREFIX: "/internal/",
          FEDN_CONNECT_API_SECURE: "false",
        },
        cwd: dir,
      },
    );
    expect(config.apiBase).toBe("http://127.0.0.1:8092/internal");
    expect(config.authScheme).toBe("Token");
    expect(config.verify).toBe(false);
    expect(config.name).toMatch(/^client[0-9a-f]{8}$/);
    expect(config.clientId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("refuses bad options with one line naming the option", async () => {
    const bad = async (options: Parameters<typeof resolveClientConfig>[0]) =>
      resolveClientConfig(options, { env, cwd: dir }).then(
        () => "accepted",
        (e: Error) => e.message,
      );
    expect(await bad({})).toMatch(/missing --api-url/);
    expect(await bad({ apiUrl: "localhost", apiPort: "http" })).toMatch(
      /--api-port expects a port number/,
    );
    expect(await bad({ combiner: "c1" })).toMatch(/--combiner needs --combiner-port/);
    expect(await bad({ combiner: "c1", combinerPort: 12080 })).toMatch(/give --local-package/);
    expect(await bad({ apiUrl: "localhost", packageChecksum: "abc" })).toMatch(
      /--package-checksum expects a sha256/,
    );
    expect(await bad({ apiUrl: "localhost", taskTimeout: -1 })).toMatch(
      /--task-timeout expects a positive number/,
    );
    expect(await bad({ apiUrl: "localhost", caCert: "missing.pem" })).toMatch(
      /CA certificate .*missing.pem cannot be read/,
    );
    expect(await bad({ init: "nope.yaml" })).toMatch(/client config .*nope.yaml cannot be read/);
    await writeFile(join(dir, "list.yaml"), "- a\n- b\n");
    expect(await bad({ init: "list.yaml" })).toMatch(/must be a YAML mapping/);
  });

  it("rewrites FEDn's -in and refuses --secure with --insecure", async () => {
    expect(fednClientArgv(["client", "start", "-in", "c.yaml"])).toEqual([
      "client",
      "start",
      "--init",
      "c.yaml",
    ]);
    expect(fednClientArgv(["train", "-in", "x"])).toEqual(["train", "-in", "x"]);
    const err: string[] = [];
    const program = { name: "fedn-tfjs", version: "0", describe: "", commands: [clientStart] };
    const ctx = {
      stdout: { write: () => true },
      stderr: { write: (t: string) => err.push(t) },
      env,
      cwd: dir,
    };
    const code = await runCli(
      program,
      ["client", "start", "-u", "localhost", "--secure", "--insecure"],
      ctx,
    );
    expect(code).toBe(2);
    expect(err[0]).toMatch(/--secure and --insecure contradict/);
  });
});

describe("assignment answers", () => {
  const assign = async (answers: { status: number; body: unknown }[], extraEnv = {}) => {
    const controller = new FakeController({ name: "p.tgz", bytes: Buffer.from("x") });
    controller.addAnswers = answers;
    const api = await controller.start();
    try {
      const config = await resolveClientConfig(
        { apiUrl: api, token: "old", retryInterval: 0.01 },
        { env: { ...extraEnv, FEDN_AUTH_REFRESH_TOKEN: "r1" }, cwd: dir },
      );
      const result = await new Controller(config, quiet)
        .assign(true, new AbortController().signal)
        .then(
          (a) => a,
          (e: Error) => e.message,
        );
      return { result, seen: controller.seen };
    } finally {
      await controller.stop();
    }
  };
  const assigned = {
    status: 200,
    body: {
      status: "assigned",
      host: "c1",
      fqdn: "",
      port: 12080,
      client_id: "id-1",
      helper_type: "numpyhelper",
    },
  };

  it("ends on 401, 400 and 404 with FEDn's reasons", async () => {
    expect((await assign([{ status: 401, body: { message: "Invalid token" } }])).result).toMatch(
      /Unauthorized \(Invalid token\): check --token/,
    );
    expect(
      (await assign([{ status: 400, body: { message: "Missing client_id." } }])).result,
    ).toMatch(/Connect to FEDn Api - Missing client_id\./);
    expect((await assign([{ status: 404, body: {} }])).result).toMatch(/Incorrect URL/);
    // FEDn 0.33 answers an unknown preferred combiner with 200 and [body, 400].
    const list = await assign([
      {
        status: 200,
        body: [{ success: false, message: "Combiner x not found or unavailable." }, 400],
      },
    ]);
    expect(list.result).toMatch(/Combiner x not found/);
  });

  it('retries "No combiner available." (a real controller says it while its combiner is down)', async () => {
    // Seen on a real FEDn 0.33 network: the controller answers 400 with this message while no
    // combiner accepts clients (not up yet, restarting, full); FEDn's client exits, ours waits.
    const { result, seen } = await assign([
      { status: 400, body: { success: false, message: "No combiner available." } },
      { status: 400, body: { success: false, message: "No combiner available." } },
      assigned,
    ]);
    expect(result).toMatchObject({ host: "c1", port: 12080, clientId: "id-1" });
    expect(seen).toHaveLength(3);
  });

  it("refreshes an expired token (connect.py) and retries 5xx", async () => {
    // FEDN_AUTH_REFRESH_TOKEN_URI answers {"access": <new token>}.
    const tokenServer = await import("node:http").then(
      (http) =>
        new Promise<{ url: string; close: () => void }>((ok) => {
          const s = http.createServer((_req, res) => {
            res.writeHead(200, { "content-type": "application/json" });
            res.end(JSON.stringify({ access: "new" }));
          });
          s.listen(0, "127.0.0.1", () => {
            const port = (s.address() as { port: number }).port;
            ok({ url: `http://127.0.0.1:${port}/token/refresh`, close: () => s.close() });
          });
        }),
    );
    try {
      const { result, seen } = await assign(
        [
          { status: 500, body: { message: "boom" } },
          { status: 401, body: { message: "Token expired" } },
          assigned,
        ],
        { FEDN_AUTH_REFRESH_TOKEN_URI: tokenServer.url },
      );
      expect(result).toMatchObject({ host: "c1", port: 12080, clientId: "id-1" });
      expect(seen.map((s) => s.authorization)).toEqual(["Bearer old", "Bearer old", "Bearer new"]);
    } finally {
      tokenServer.close();
    }
  });

  it("refuses a package whose sha256 is not the controller's", async () => {
    const controller = new FakeController(
      { name: "p.tgz", bytes: Buffer.from("package bytes") },
      "0".repeat(64),
    );
    const api = await controller.start();
    try {
      const config = await resolveClientConfig({ apiUrl: api }, { env, cwd: dir });
      const error = await new Controller(config, quiet)
        .downloadPackage(new AbortController().signal)
        .then(
          () => "accepted",
          (e: Error) => e.message,
        );
      expect(error).toMatch(
        /p.tgz: sha256 [0-9a-f]{64} does not match the controller's checksum 0{64}/,
      );
    } finally {
      await controller.stop();
    }
  });
});

describe("the bin", () => {
  it("stops cleanly on SIGTERM: the stream is closed, the summary printed, status 143", async () => {
    const combiner = new FakeCombiner();
    const port = await combiner.start();
    const pkg = join(dir, "bin-pkg");
    await mkdir(pkg, { recursive: true });
    await writeFile(join(pkg, "fedn.yaml"), "entry_points:\n  train:\n    command: 'false'\n");
    const bin = resolve(import.meta.dirname, "..", "dist", "bin", "cli.js");
    const child = spawn(
      "node",
      [
        bin,
        "client",
        "start",
        "--combiner",
        "127.0.0.1",
        "--combiner-port",
        String(port),
        "--package-path",
        pkg,
        "--name",
        "bin1",
        "-i",
        "bin-id",
      ],
      { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((ok) => child.on("close", (code) => ok(code)));
    try {
      await combiner.waitFor("TaskStream", (c) => c.metadata.client === "bin-id", 0, 20_000);
      child.kill("SIGTERM");
      expect(await exited).toBe(143); // 128 + SIGTERM, the shell's convention
      expect(stdout).toMatch(
        /^0 model update\(s\), 0 validation\(s\), 0 prediction\(s\), 0 failed task\(s\), 0 reconnect\(s\)$/m,
      );
      expect(stderr).toMatch(/client start: stopped by SIGTERM/);
      expect(stderr).toMatch(/\[INFO\] Client stopped\./);
      await combiner.waitFor("TaskStream.cancelled", () => true, 0, 5000);
    } finally {
      child.kill("SIGKILL");
      combiner.kill();
    }
  });
});

describe("the token and an insecure combiner", () => {
  it("withholds the token as FEDn does, and a combiner that checks tokens says how to send it", async () => {
    const combiner = new FakeCombiner();
    combiner.requireToken = "t0";
    const port = await combiner.start();
    const pkg = join(dir, "token-pkg");
    await mkdir(pkg, { recursive: true });
    await writeFile(join(pkg, "fedn.yaml"), "entry_points:\n  train:\n    command: 'false'\n");
    const client = (insecureToken: boolean, signal: AbortSignal) =>
      startClient({
        combiner: "127.0.0.1",
        combinerPort: port,
        token: "t0",
        insecureToken,
        localPackage: pkg,
        retryInterval: 0.05,
        telemetryInterval: 0,
        signal,
        env: process.env,
        cwd: resolve(dir),
        log: { write: () => true },
      });
    try {
      await expect(client(false, new AbortController().signal)).rejects.toThrow(
        /refused the (client|task stream) \(Token is missing\): the token goes to the combiner only over TLS: use --secure, or --insecure-token/,
      );
      const stop = new AbortController();
      const running = client(true, stop.signal);
      const subscribe = await combiner.waitFor("TaskStream");
      expect(subscribe.metadata.authorization).toBe("Bearer t0");
      stop.abort();
      await running;
    } finally {
      combiner.kill();
    }
  });
});

const noOpenssl = spawnSync("openssl", ["version"]).status !== 0;

describe.skipIf(noOpenssl)("TLS to the combiner (needs openssl)", () => {
  it("dials with the CA given and sends the token as call credentials", async () => {
    const key = join(dir, "key.pem");
    const cert = join(dir, "cert.pem");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-keyout",
        key,
        "-out",
        cert,
      ],
      { stdio: "ignore" },
    );
    const { readFile } = await import("node:fs/promises");
    const combiner = new FakeCombiner();
    const credentials = grpc.ServerCredentials.createSsl(null, [
      { private_key: await readFile(key), cert_chain: await readFile(cert) },
    ]);
    const port = await combiner.start(0, credentials);
    const pkg = join(dir, "tls-pkg");
    await mkdir(pkg, { recursive: true });
    await writeFile(join(pkg, "metrics.json"), '{"test_accuracy": 0.5}');
    await writeFile(join(pkg, "fedn.yaml"), "entry_points:\n  validate:\n    command: bash v.sh\n");
    await writeFile(join(pkg, "v.sh"), 'cp metrics.json "$2"\n');
    const stop = new AbortController();
    const running = startClient({
      combiner: "localhost",
      combinerPort: port,
      secure: true,
      caCert: cert,
      token: "tls-token",
      name: "tls1",
      clientId: "tls-id",
      localPackage: pkg,
      retryInterval: 0.05,
      telemetryInterval: 0,
      signal: stop.signal,
      env: process.env,
      cwd: resolve(dir),
      log: { write: () => true },
    });
    try {
      const subscribe = await combiner.waitFor("TaskStream");
      expect(subscribe.metadata.authorization).toBe("Bearer tls-token");
      combiner.models.set("m1", Buffer.from("any bytes: validate does not read them here"));
      combiner.send("tls-id", { model_id: "m1", type: 4, correlation_id: "c", session_id: "s" });
      const validation = await combiner.waitFor("SendModelValidation");
      expect(JSON.parse(wireString(wireFields(validation.raw), 4) as string)).toEqual({
        test_accuracy: 0.5,
      });
      expect(validation.metadata.authorization).toBe("Bearer tls-token");
    } finally {
      stop.abort();
      await running;
      combiner.kill();
    }
  });
});
