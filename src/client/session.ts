/**
 * A FEDn client session over gRPC, as FEDn v0.33.0's client lives it
 * (`fedn/network/clients/grpc_handler.py`, `fedn_client.py`): heartbeats, the task stream,
 * models down and up in chunks, and the messages the combiner reads
 * (`fedn/network/combiner/combiner.py`, `updatehandler.py`, `modelservice.py`). Differences
 * from FEDn's client, all on purpose:
 * - a failed task is reported with a `Status` at ERROR/WARNING and the client stays on the
 *   stream (FEDn 0.33 sends a `None` model, its stream thread dies, later rounds miss it);
 * - the wait between retries starts at the retry interval and doubles up to 16 times it (FEDn:
 *   starts at twice the interval, no cap but a reset after a long gap);
 * - the token goes with TLS also when a root certificate is given (FEDn drops it then); on an
 *   insecure channel it is not sent, as FEDn, unless `--insecure-token` asks for it;
 * - an `AbortSignal` ends the session: the running entry point's process group is stopped and
 *   nothing is sent for a task that did not finish.
 */
import { randomUUID } from "node:crypto";
import { cpus, freemem, totalmem } from "node:os";
import type * as Grpc from "@grpc/grpc-js";
import { toPythonJson } from "../codec/pyjson.js";
import { IoError, UsageError } from "../errors.js";
import type { ClientConfig } from "./config.js";
import type { Logger } from "./log.js";
import { sleep } from "./log.js";
import {
  type ClientRef,
  LogLevel,
  type ModelResponse,
  ModelStatus,
  messageToJson,
  now,
  protocol,
  pythonUtcNow,
  Role,
  type Services,
  StatusType,
  type TaskRequest,
} from "./protocol.js";
import type { TaskRunner } from "./tasks.js";

/** FEDn's chunk size for model uploads (`modelservice.py: CHUNK_SIZE`). */
const CHUNK_SIZE = 1024 * 1024;
/** FEDn's channel options (`grpc_handler.py: GRPC_OPTIONS`). */
const KEEPALIVE = {
  "grpc.keepalive_time_ms": 5000,
  "grpc.keepalive_timeout_ms": 30_000,
  "grpc.keepalive_permit_without_calls": 1,
};
/** gRPC codes after which FEDn's `grpc_retry` tries again: UNAVAILABLE, CANCELLED. */
const RETRY_CODES = new Set([14, 1]);

/** Where the combiner is and how to reach it. */
export interface CombinerTarget {
  /** host:port to dial. */
  address: string;
  /** The combiner's name (`grpc-server` metadata, FEDn's `combiner_name`). */
  name: string;
  secure: boolean;
}

/** Something the session did, for callers that watch it (tests, a UI). */
export type SessionEvent =
  | { type: "subscribed" }
  | { type: "stream-lost"; reason: string }
  | {
      type: "task";
      kind: "train" | "validate" | "predict";
      ok: boolean;
      error?: string | undefined;
      modelId: string;
    };

/** Options of `runSession`. */
export interface SessionOptions {
  config: ClientConfig;
  target: CombinerTarget;
  /** The client id the controller confirmed. */
  clientId: string;
  token: string | undefined;
  runner: TaskRunner;
  log: Logger;
  signal: AbortSignal;
  onEvent?: ((event: SessionEvent) => void) | undefined;
}

/** What a session did, when it ends. */
export interface SessionSummary {
  updates: number;
  validations: number;
  predictions: number;
  failed: number;
  reconnects: number;
}

type GrpcError = Error & { code?: number; details?: string };
type UnaryFn = (
  message: unknown,
  metadata: Grpc.Metadata,
  options: Grpc.CallOptions,
  callback: (error: GrpcError | null, response: unknown) => void,
) => Grpc.ClientUnaryCall;

/** Best-effort CPU load in percent since the last call (FEDn uses psutil.cpu_percent). */
function cpuMeter(): () => number {
  let last = cpus().map((c) => c.times);
  return () => {
    const next = cpus().map((c) => c.times);
    let idle = 0;
    let total = 0;
    next.forEach((t, i) => {
      const p = last[i] ?? t;
      const sum = (x: typeof t) => x.user + x.nice + x.sys + x.idle + x.irq;
      idle += t.idle - p.idle;
      total += sum(t) - sum(p);
    });
    last = next;
    return total > 0 ? (100 * (total - idle)) / total : 0;
  };
}

/** Runs the gRPC session until `signal` aborts or the combiner refuses the client. */
export async function runSession(options: SessionOptions): Promise<SessionSummary> {
  const session = new Session(options, await import("@grpc/grpc-js"));
  return session.run();
}

class Session {
  private services!: Services;
  private connector!: Grpc.Client;
  private combiner!: Grpc.Client;
  private models!: Grpc.Client;
  private readonly credentials: Grpc.ChannelCredentials;
  private readonly metadata: Grpc.Metadata;
  private readonly me: ClientRef;
  private readonly config: ClientConfig;
  private readonly log: Logger;
  private readonly signal: AbortSignal;
  private readonly queue: TaskRequest[] = [];
  private wake: (() => void) | undefined;
  /** Failures in a row, per loop: each loop backs off on its own; a heartbeat that gets through resets all. */
  private readonly failures = { call: 0, heartbeat: 0, stream: 0 };
  private fatal: Error | undefined;
  private readonly summary: SessionSummary = {
    updates: 0,
    validations: 0,
    predictions: 0,
    failed: 0,
    reconnects: 0,
  };
  /** Ends the session from inside (a fatal error), as the caller's signal does from outside. */
  private readonly stop = new AbortController();
  private readonly done: AbortSignal;

  constructor(
    private readonly options: SessionOptions,
    private readonly grpc: typeof Grpc,
  ) {
    this.config = options.config;
    this.log = options.log;
    this.signal = options.signal;
    this.done = AbortSignal.any([options.signal, this.stop.signal]);
    // grpc_handler.py: GrpcHandler.__init__ — ("client", <client id>), ("grpc-server", <combiner>).
    this.metadata = new grpc.Metadata();
    this.metadata.set("client", options.clientId);
    this.metadata.set("grpc-server", options.target.name);
    // grpc_handler.py: the token goes only as TLS call credentials; in clear text on request.
    if (options.token !== undefined && !options.target.secure) {
      if (this.config.insecureToken) {
        this.metadata.set("authorization", `${this.config.authScheme} ${options.token}`);
        options.log.warning(
          "Sending the token to the combiner over an insecure channel (--insecure-token): anyone on the path can read it",
        );
      } else {
        options.log.info(
          "The token is not sent to the combiner over an insecure channel (as FEDn's client); a combiner that checks tokens needs TLS, or --insecure-token",
        );
      }
    }
    this.me = { name: this.config.name, role: Role.CLIENT, client_id: options.clientId };
    this.done.addEventListener("abort", () => this.wake?.(), { once: true });
    if (options.target.secure) {
      const tls = grpc.credentials.createSsl(this.config.caCert ?? null);
      const token = options.token;
      // grpc_handler.py: GrpcAuth — "authorization: <FEDN_AUTH_SCHEME> <token>" per call.
      this.credentials =
        token === undefined
          ? tls
          : grpc.credentials.combineChannelCredentials(
              tls,
              grpc.credentials.createFromMetadataGenerator((_params, callback) => {
                const md = new grpc.Metadata();
                md.set("authorization", `${this.config.authScheme} ${token}`);
                callback(null, md);
              }),
            );
    } else {
      this.credentials = grpc.credentials.createInsecure();
    }
  }

  /** (Re)creates the three service clients on a fresh channel (FEDn's `_reconnect`). */
  private connect(): void {
    for (const c of [this.connector, this.combiner, this.models]) c?.close();
    const channelOptions = {
      ...KEEPALIVE,
      "grpc.initial_reconnect_backoff_ms": Math.min(this.config.retryMs, 1000),
      "grpc.max_reconnect_backoff_ms": this.config.retryMs * 16,
    };
    const address = this.options.target.address;
    this.connector = new this.services.Connector(address, this.credentials, channelOptions);
    this.combiner = new this.services.Combiner(address, this.credentials, channelOptions);
    this.models = new this.services.ModelService(address, this.credentials, channelOptions);
  }

  private backoff(loop: keyof Session["failures"]): number {
    const n = this.failures[loop]++;
    const base = Math.min(this.config.retryMs * 2 ** n, this.config.retryMs * 16);
    return base * (0.9 + 0.2 * Math.random());
  }

  async run(): Promise<SessionSummary> {
    this.services = await protocol(this.grpc);
    this.log.info(
      `Connecting (GRPC) to ${this.options.target.address}${this.options.target.secure ? " (TLS)" : ""}`,
    );
    this.connect();
    const loops = [this.heartbeats(), this.tasks(), this.telemetry(), this.attributes()];
    await this.listen();
    await Promise.all(loops);
    for (const c of [this.connector, this.combiner, this.models]) c.close();
    this.log.info("GRPC channel closed.");
    if (this.fatal !== undefined && !this.signal.aborted) throw this.fatal;
    return this.summary;
  }

  /** A unary call, resolved with the response. */
  private unary(client: Grpc.Client, method: string, message: unknown): Promise<unknown> {
    return new Promise((resolveCall, reject) => {
      const fn = (client as unknown as Record<string, UnaryFn>)[method] as UnaryFn;
      const cancel = () => call.cancel();
      const call = fn.call(
        client,
        message,
        this.metadata,
        { deadline: Date.now() + 30_000 },
        (error, response) => {
          this.done.removeEventListener("abort", cancel);
          if (error) reject(error);
          else resolveCall(response);
        },
      );
      this.done.addEventListener("abort", cancel, { once: true });
    });
  }

  /**
   * FEDn's `grpc_retry`: try again after UNAVAILABLE or CANCELLED (and "Stream removed"), with
   * back-off, `tries` times (Infinity = until the session ends); other errors are thrown.
   */
  private async retrying<T>(what: string, tries: number, attempt: () => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        const result = await attempt();
        return result;
      } catch (error) {
        const e = error as GrpcError;
        const again =
          (e.code !== undefined && RETRY_CODES.has(e.code)) ||
          (e.code === 2 && e.details === "Stream removed");
        if (this.done.aborted || !again || n >= tries) throw error;
        const wait = this.backoff("call");
        this.log.warning(
          `GRPC (${what}): Server unavailable. Retrying in approx ${(wait / 1000).toFixed(1)} seconds.`,
        );
        this.log.debug(`GRPC (${what}): ${e.details ?? e.message}`);
        await sleep(wait, this.done);
      }
    }
  }

  /** What to check when the combiner refuses the client: the token, or that it was not sent. */
  private tokenHint(): string {
    const withheld =
      this.options.token !== undefined && !this.options.target.secure && !this.config.insecureToken;
    return withheld
      ? "the token goes to the combiner only over TLS: use --secure, or --insecure-token"
      : "check --token";
  }

  private fail(error: Error): void {
    this.fatal ??= error;
    this.stop.abort();
  }

  /** `send_heartbeats`: a `Heartbeat` every 2 s; the combiner counts a client as online on it. */
  private async heartbeats(): Promise<void> {
    while (!this.done.aborted) {
      try {
        await this.unary(this.connector, "SendHeartbeat", { sender: this.me });
        this.failures.call = 0;
        this.failures.heartbeat = 0;
        this.failures.stream = 0;
        await sleep(this.config.heartbeatMs, this.done);
      } catch (error) {
        if (this.done.aborted) return;
        const e = error as GrpcError;
        if (e.code === 16 || e.code === 7) {
          this.fail(
            new UsageError(
              `the combiner refused the client (${e.details ?? e.message}): ${this.tokenHint()}`,
              { option: "token" },
            ),
          );
          return;
        }
        const wait = this.backoff("heartbeat");
        this.log.warning(
          `GRPC (SendHeartbeat): Server unavailable. Retrying in approx ${(wait / 1000).toFixed(1)} seconds.`,
        );
        await sleep(wait, this.done);
      }
    }
  }

  /** FEDn's default telemetry loop: memory and CPU use in percent every 5 s (best effort). */
  private async telemetry(): Promise<void> {
    if (this.config.telemetryMs <= 0) return;
    const cpu = cpuMeter();
    while (!this.done.aborted) {
      await sleep(this.config.telemetryMs, this.done);
      if (this.done.aborted) return;
      const message = {
        sender: this.me,
        telemetries: [
          { key: "memory_usage", value: (100 * (totalmem() - freemem())) / totalmem() },
          { key: "cpu_usage", value: cpu() },
        ],
        timestamp: now(),
      };
      await this.unary(this.combiner, "SendTelemetryMessage", message).catch(() => undefined);
    }
  }

  /** `log_attributes`, once per session: the `--attributes` as `AttributeElem`s (5 tries, best effort). */
  private async attributes(): Promise<void> {
    const entries = Object.entries(this.config.attributes);
    if (entries.length === 0) return;
    const message = {
      sender: this.me,
      attributes: entries.map(([key, value]) => ({ key, value })),
      timestamp: now(),
    };
    this.log.debug(`GRPC: SendAttributeMessage ${JSON.stringify(this.config.attributes)}`);
    try {
      await this.retrying("SendAttributeMessage", 5, () =>
        this.unary(this.combiner, "SendAttributeMessage", message),
      );
    } catch (error) {
      if (!this.done.aborted) {
        this.log.warning(`GRPC (SendAttributeMessage): ${(error as Error).message}`);
      }
    }
  }

  /** `listen_to_task_stream`: subscribe, queue tasks, resubscribe with back-off when it breaks. */
  private async listen(): Promise<void> {
    let first = true;
    while (!this.done.aborted) {
      if (!first) {
        this.summary.reconnects++;
        this.connect();
      }
      first = false;
      const reason = await new Promise<GrpcError | undefined>((resolveStream) => {
        const call = (
          this.combiner as unknown as {
            TaskStream(m: unknown, md: Grpc.Metadata): Grpc.ClientReadableStream<TaskRequest>;
          }
        ).TaskStream({ sender: this.me }, this.metadata);
        this.log.info("Listening to task stream.");
        this.options.onEvent?.({ type: "subscribed" });
        const cancel = () => call.cancel();
        this.done.addEventListener("abort", cancel, { once: true });
        call.on("data", (request: TaskRequest) => this.receive(request));
        call.on("error", (error: GrpcError) => {
          this.done.removeEventListener("abort", cancel);
          resolveStream(error);
        });
        call.on("end", () => {
          this.done.removeEventListener("abort", cancel);
          resolveStream(undefined);
        });
      });
      if (this.done.aborted) break;
      if (reason?.code === 16 || reason?.code === 7) {
        this.fail(
          new UsageError(
            `the combiner refused the task stream (${reason.details ?? reason.message}): ${this.tokenHint()}`,
            { option: "token" },
          ),
        );
        break;
      }
      const why =
        reason === undefined ? "the combiner ended the stream" : reason.details || reason.message;
      const wait = this.backoff("stream");
      this.log.warning(
        `GRPC (TaskStream): ${why}. Reconnecting in approx ${(wait / 1000).toFixed(1)} seconds.`,
      );
      this.options.onEvent?.({ type: "stream-lost", reason: why });
      await sleep(wait, this.done);
    }
    this.wake?.();
  }

  private receive(request: TaskRequest): void {
    // grpc_handler.py: listen_to_task_stream acts only on requests a combiner sent.
    if (request.sender?.role !== Role.COMBINER) {
      this.log.debug(
        `GRPC: ignoring a task from a non-combiner sender ${JSON.stringify(request.sender)}`,
      );
      return;
    }
    this.log.info(`Received task request of type ${request.type} for model_id ${request.model_id}`);
    this.log.debug(
      `GRPC: TaskRequest ${messageToJson(request as unknown as Record<string, unknown>).replace(/\s+/g, " ")}`,
    );
    this.queue.push(request);
    this.wake?.();
  }

  /** Works through the queued tasks one at a time, as FEDn's stream thread does. */
  private async tasks(): Promise<void> {
    while (!this.done.aborted) {
      const request = this.queue.shift();
      if (request === undefined) {
        await new Promise<void>((r) => {
          this.wake = r;
        });
        this.wake = undefined;
        continue;
      }
      await this.sendStatus(
        "Received request from combiner.",
        LogLevel.AUDIT,
        request.type,
        request,
        request.session_id,
      );
      if (request.type === StatusType.MODEL_UPDATE) await this.train(request);
      else if (request.type === StatusType.MODEL_VALIDATION) await this.validate(request);
      else if (request.type === StatusType.MODEL_PREDICTION) await this.predict(request);
      else {
        this.log.warning(
          `Task type ${request.type} (split learning) is not supported by this client; skipped`,
        );
        await this.sendStatus(
          `Client ${this.config.name} does not support task type ${request.type}.`,
          LogLevel.WARNING,
          request.type,
          request,
          request.session_id,
        );
      }
    }
  }

  /** `send_status` (5 tries); a status that cannot be sent is only logged. */
  private async sendStatus(
    text: string,
    level: number,
    type: number | undefined,
    data: Record<string, unknown> | TaskRequest | undefined,
    sessionId: string,
  ): Promise<void> {
    const status = {
      sender: { name: this.config.name, role: Role.CLIENT, client_id: this.me.client_id },
      status: text,
      log_level: level,
      type: type ?? StatusType.LOG,
      data: data === undefined ? "" : messageToJson(data as Record<string, unknown>),
      session_id: sessionId,
      timestamp: now(),
    };
    this.log.debug(`GRPC: SendStatus ${text}`);
    try {
      await this.retrying("SendStatus", 5, () => this.unary(this.connector, "SendStatus", status));
    } catch (error) {
      if (!this.done.aborted) this.log.warning(`GRPC (SendStatus): ${(error as Error).message}`);
    }
  }

  /** `get_model_from_combiner`: the model's chunks until OK; FAILED or an early end is an error. */
  private download(modelId: string): Promise<Uint8Array> {
    return this.retrying(
      "Download",
      Number.POSITIVE_INFINITY,
      () =>
        new Promise<Uint8Array>((resolveModel, reject) => {
          const request = {
            id: modelId,
            sender: { client_id: this.me.client_id, role: Role.CLIENT },
          };
          const call = (
            this.models as unknown as {
              Download(m: unknown, md: Grpc.Metadata): Grpc.ClientReadableStream<ModelResponse>;
            }
          ).Download(request, this.metadata);
          const parts: Uint8Array[] = [];
          let settled = false;
          const cancel = () => call.cancel();
          this.done.addEventListener("abort", cancel, { once: true });
          const finish = (error: Error | undefined, value?: Uint8Array) => {
            if (settled) return;
            settled = true;
            this.done.removeEventListener("abort", cancel);
            if (error) reject(error);
            else resolveModel(value as Uint8Array);
          };
          call.on("data", (part: ModelResponse) => {
            if (part.status === ModelStatus.IN_PROGRESS) parts.push(part.data);
            else if (part.status === ModelStatus.OK) {
              finish(undefined, Buffer.concat(parts));
              call.cancel();
            } else if (part.status === ModelStatus.FAILED) {
              finish(new IoError(`the combiner could not serve model ${modelId}`));
              call.cancel();
            }
          });
          call.on("error", (error: GrpcError) => finish(error));
          call.on("end", () =>
            finish(
              new IoError(`the download of model ${modelId} ended before the combiner said OK`),
            ),
          );
        }),
    );
  }

  /** `send_model_to_combiner`: 1 MiB `ModelRequest`s IN_PROGRESS, then an empty OK. */
  private upload(id: string, bytes: Uint8Array): Promise<void> {
    return this.retrying(
      "Upload",
      Number.POSITIVE_INFINITY,
      () =>
        new Promise<void>((resolveUpload, reject) => {
          const call = (
            this.models as unknown as {
              Upload(
                md: Grpc.Metadata,
                cb: (e: GrpcError | null, r: unknown) => void,
              ): Grpc.ClientWritableStream<unknown>;
            }
          ).Upload(this.metadata, (error, response) => {
            this.done.removeEventListener("abort", cancel);
            if (error) reject(error);
            else {
              this.log.debug(`GRPC: Upload ${id} -> ${JSON.stringify(response)}`);
              resolveUpload();
            }
          });
          const cancel = () => call.cancel();
          this.done.addEventListener("abort", cancel, { once: true });
          for (let at = 0; at < bytes.length; at += CHUNK_SIZE) {
            call.write({
              id,
              data: bytes.subarray(at, at + CHUNK_SIZE),
              status: ModelStatus.IN_PROGRESS,
            });
          }
          call.write({ id, status: ModelStatus.OK });
          call.end();
        }),
    );
  }

  private receiverOf(request: TaskRequest): ClientRef {
    return {
      name: request.sender?.name ?? "",
      role: request.sender?.role ?? Role.COMBINER,
      client_id: "",
    };
  }

  private reportFailure(
    kind: "train" | "validate" | "predict",
    request: TaskRequest,
    error: unknown,
  ): Promise<void> {
    const reason = (error as Error).message.split("\n")[0];
    if (this.done.aborted) {
      this.log.info(`Task for model_id ${request.model_id} stopped: the client is shutting down`);
      return Promise.resolve();
    }
    this.summary.failed++;
    this.options.onEvent?.({
      type: "task",
      kind,
      ok: false,
      error: reason,
      modelId: request.model_id,
    });
    const what = { train: "training", validate: "validation", predict: "prediction" }[kind];
    this.log.error(`Could not process ${what} request for model_id ${request.model_id}: ${reason}`);
    return this.sendStatus(
      `Client ${this.config.name} failed to complete model ${what}: ${reason}`,
      kind === "train" ? LogLevel.ERROR : LogLevel.WARNING,
      request.type,
      request,
      request.session_id,
    );
  }

  /** `update_local_model` + `_process_training_request`. */
  private async train(request: TaskRequest): Promise<void> {
    const modelId = request.model_id;
    try {
      let settings: Record<string, unknown> = {};
      let roundId = "";
      try {
        const config = JSON.parse(request.data || "{}") as {
          client_settings?: unknown;
          round_id?: unknown;
        };
        if (config.client_settings && typeof config.client_settings === "object") {
          settings = config.client_settings as Record<string, unknown>;
        }
        if (typeof config.round_id === "string" || typeof config.round_id === "number") {
          roundId = String(config.round_id);
        }
      } catch {
        throw new IoError("the round config in TaskRequest.data is not JSON");
      }
      let tic = performance.now();
      this.log.info("Downloading model from combiner.");
      const model = await this.download(modelId);
      const fetchModel = (performance.now() - tic) / 1000;
      this.log.info(`FETCH_MODEL: ${fetchModel}`);
      await this.sendStatus(
        `\t Starting processing of training request for model_id ${modelId}`,
        LogLevel.INFO,
        StatusType.MODEL_UPDATE,
        undefined,
        request.session_id,
      );
      this.log.info(`Running train callback with model ID: ${modelId}`);
      tic = performance.now();
      const sent: Promise<void>[] = [];
      const out = await this.options.runner
        .train(model, settings, this.done, (metrics, step) => {
          sent.push(this.sendMetric(request, roundId, metrics, step));
        })
        .finally(() => Promise.all(sent));
      const processing = (performance.now() - tic) / 1000;
      this.log.info(`SETTING Training metadata: ${toPythonJson(out.metadata)}`);
      if (typeof out.metadata.num_examples !== "number") {
        throw new IoError(
          "the training metadata has no num_examples; the combiner would drop the update",
        );
      }
      if (this.done.aborted) return;
      const updateId = randomUUID();
      tic = performance.now();
      this.log.info("Uploading model to combiner.");
      await this.upload(updateId, out.model);
      const uploadModel = (performance.now() - tic) / 1000;
      this.log.info(`UPLOAD_MODEL: ${uploadModel}`);
      // fedn_client.py: update_local_model builds meta in this order; updatehandler.py reads
      // meta["training_metadata"]["num_examples"] and json.loads(meta["config"]).
      const meta = {
        exec_training: out.seconds,
        training_metadata: out.metadata,
        processing_time: processing,
        upload_model: uploadModel,
        fetch_model: fetchModel,
        config: request.data,
      };
      const update = {
        sender: this.me,
        receiver: this.receiverOf(request),
        model_id: modelId,
        model_update_id: updateId,
        correlation_id: request.correlation_id,
        timestamp: pythonUtcNow(),
        meta: toPythonJson(meta),
      };
      if (this.done.aborted) return;
      this.log.info("Sending model update to combiner.");
      await this.retrying("SendModelUpdate", Number.POSITIVE_INFINITY, () =>
        this.unary(this.combiner, "SendModelUpdate", update),
      );
      this.summary.updates++;
      this.options.onEvent?.({ type: "task", kind: "train", ok: true, modelId });
      await this.sendStatus(
        "Model update completed.",
        LogLevel.AUDIT,
        StatusType.MODEL_UPDATE,
        update,
        request.session_id,
      );
    } catch (error) {
      await this.reportFailure("train", request, error);
    }
  }

  /**
   * `log_metric` during a training task: `ModelMetric` with the task's model, round and session
   * ids (`fedn_client.py: LoggingContext`), each metric a `MetricElem`; the combiner stores one
   * row per metric (`combiner.py: SendModelMetric`). 5 tries; a metric that cannot be sent is
   * only logged.
   */
  private async sendMetric(
    request: TaskRequest,
    roundId: string,
    metrics: Readonly<Record<string, number>>,
    step: number,
  ): Promise<void> {
    const message = {
      sender: this.me,
      metrics: Object.entries(metrics).map(([key, value]) => ({ key, value })),
      timestamp: now(),
      step: { value: step },
      model_id: request.model_id,
      round_id: roundId,
      session_id: request.session_id,
    };
    this.log.debug(`GRPC: SendModelMetric step ${step} ${JSON.stringify(metrics)}`);
    try {
      await this.retrying("SendModelMetric", 5, () =>
        this.unary(this.combiner, "SendModelMetric", message),
      );
    } catch (error) {
      if (!this.done.aborted)
        this.log.warning(`GRPC (SendModelMetric): ${(error as Error).message}`);
    }
  }

  /** `validate_global_model` + `_process_validation_request`. */
  private async validate(request: TaskRequest): Promise<void> {
    const modelId = request.model_id;
    try {
      await this.sendStatus(
        `Processing validate request for model_id ${modelId}`,
        LogLevel.INFO,
        StatusType.MODEL_VALIDATION,
        undefined,
        request.session_id,
      );
      const model = await this.download(modelId);
      this.log.info(`Running validate callback with model ID: ${modelId}`);
      const metrics = await this.options.runner.validate(model, this.done);
      if (this.done.aborted) return;
      // grpc_handler.py: create_validation_message; combiner.py: SendModelValidation stores it.
      const validation = {
        sender: this.me,
        receiver: this.receiverOf(request),
        model_id: modelId,
        data: toPythonJson(metrics),
        timestamp: now(),
        correlation_id: request.correlation_id,
        session_id: request.session_id,
      };
      this.log.info("Sending model validation to combiner.");
      await this.retrying("SendModelValidation", Number.POSITIVE_INFINITY, () =>
        this.unary(this.combiner, "SendModelValidation", validation),
      );
      this.summary.validations++;
      this.options.onEvent?.({ type: "task", kind: "validate", ok: true, modelId });
      await this.sendStatus(
        "Model validation completed.",
        LogLevel.AUDIT,
        StatusType.MODEL_VALIDATION,
        validation,
        request.session_id,
      );
    } catch (error) {
      await this.reportFailure("validate", request, error);
    }
  }

  /** `predict_global_model` + `_process_prediction_request`. */
  private async predict(request: TaskRequest): Promise<void> {
    const modelId = request.model_id;
    try {
      const model = await this.download(modelId);
      this.log.info(`Running predict callback with model ID: ${modelId}`);
      const prediction = await this.options.runner.predict(model, this.done);
      if (this.done.aborted) return;
      // grpc_handler.py: create_prediction_message — prediction_id is the task's session_id.
      const message = {
        sender: this.me,
        receiver: this.receiverOf(request),
        model_id: modelId,
        data: toPythonJson(prediction),
        timestamp: now(),
        correlation_id: request.correlation_id,
        prediction_id: request.session_id,
      };
      this.log.info("Sending model prediction to combiner.");
      await this.retrying("SendModelPrediction", Number.POSITIVE_INFINITY, () =>
        this.unary(this.combiner, "SendModelPrediction", message),
      );
      this.summary.predictions++;
      this.options.onEvent?.({ type: "task", kind: "predict", ok: true, modelId });
    } catch (error) {
      await this.reportFailure("predict", request, error);
    }
  }
}
