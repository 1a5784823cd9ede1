/**
 * The client's HTTP side: assignment to a combiner and the compute package, as FEDn v0.33.0's
 * client does them (`fedn/network/clients/fedn_client.py: connect_to_api`,
 * `client_v2.py: _connect_to_api`, `connect.py: ConnectorClient.assign/refresh_token`,
 * `package_runtime.py`). Requests carry `Authorization: <FEDN_AUTH_SCHEME> <token>`.
 */
import { createHash } from "node:crypto";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { IoError, UsageError } from "../errors.js";
import type { ClientConfig } from "./config.js";
import type { Logger } from "./log.js";
import { sleep } from "./log.js";

/** FEDn's REQUEST_TIMEOUT for every controller call. */
const REQUEST_TIMEOUT_MS = 10_000;
/** FEDn retries a 203 ("no compute package yet") every 3 s (sooner with a shorter retry interval). */
const PACKAGE_MISSING_RETRY_MS = 3000;
/** FEDn 0.33's add_client answer (400) when no combiner accepts clients right now: transient. */
const NO_COMBINER = /^No combiner available/;

/** An HTTP answer, body read whole. */
export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One HTTP(S) request with TLS settings, a timeout and redirects followed (as `requests`). */
export async function send(
  url: string,
  init: {
    method?: "GET" | "POST";
    headers?: Record<string, string>;
    json?: unknown;
    ca?: Buffer | undefined;
    verify?: boolean;
    signal?: AbortSignal | undefined;
  },
  redirects = 5,
): Promise<HttpAnswer> {
  const target = new URL(url);
  const body = init.json === undefined ? undefined : Buffer.from(JSON.stringify(init.json));
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    headers["content-length"] = String(body.length);
  }
  const answer = await new Promise<HttpAnswer>((resolveAnswer, reject) => {
    const call = target.protocol === "https:" ? httpsRequest : httpRequest;
    const req = call(
      target,
      {
        method: init.method ?? "GET",
        headers,
        timeout: REQUEST_TIMEOUT_MS,
        signal: init.signal,
        ...(target.protocol === "https:"
          ? { ca: init.ca, rejectUnauthorized: init.verify ?? true }
          : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolveAnswer({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer in ${REQUEST_TIMEOUT_MS / 1000} s`)));
    req.on("error", reject);
    req.end(body);
  });
  const location = answer.headers.location;
  if ([301, 302, 303, 307, 308].includes(answer.status) && location && redirects > 0) {
    const next = new URL(location, target).toString();
    const keep = answer.status === 307 || answer.status === 308;
    return send(next, keep ? init : { ...init, method: "GET", json: undefined }, redirects - 1);
  }
  return answer;
}

function json(answer: HttpAnswer): unknown {
  try {
    return JSON.parse(answer.body.toString("utf8"));
  } catch {
    return undefined;
  }
}

function message(answer: HttpAnswer): string {
  const value = json(answer);
  if (value !== null && typeof value === "object" && "message" in value) {
    return String((value as { message: unknown }).message);
  }
  const text = answer.body.toString("utf8").trim().split("\n")[0] ?? "";
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** Where the controller sent the client: FEDn's `GrpcConnectionOptions`. */
export interface Assignment {
  host: string;
  fqdn: string;
  port: number;
  clientId: string;
  helperType: string;
}

/** Talks to the controller on the client's behalf; keeps the (refreshable) token. */
export class Controller {
  private token: string | undefined;

  constructor(
    private readonly config: ClientConfig,
    private readonly log: Logger,
  ) {
    this.token = config.token;
  }

  private headers(): Record<string, string> {
    // FEDn sends "<scheme> None" without a token; a server without auth ignores the header.
    return this.token === undefined
      ? {}
      : { Authorization: `${this.config.authScheme} ${this.token}` };
  }

  private url(route: string): string {
    return `${this.config.apiBase}/${route}`;
  }

  private get tls() {
    return { ca: this.config.caCert, verify: this.config.verify };
  }

  /**
   * `connect.py: refresh_token`: a 401 "Token expired" is retried once a new access token came
   * from FEDN_AUTH_REFRESH_TOKEN_URI; returns whether it did.
   */
  private async refreshToken(signal: AbortSignal): Promise<boolean> {
    const refresh = this.config.refresh;
    if (refresh === undefined) return false;
    const answer = await send(refresh.uri, {
      method: "POST",
      json: { refresh: refresh.token },
      ...this.tls,
      signal,
    });
    const access = (json(answer) as { access?: unknown } | undefined)?.access;
    if (answer.status < 200 || answer.status >= 204 || typeof access !== "string") return false;
    this.token = access;
    this.log.info("Token refreshed.");
    return true;
  }

  /** The token now in use (after any refresh), for the gRPC channel. */
  currentToken(): string | undefined {
    return this.token;
  }

  /**
   * `POST api/v1/clients/add` until assigned. 203 (no package yet) and a 200 with
   * `"status": "retry"` are retried every 3 s as FEDn does; network failures and 5xx are retried
   * with back-off (FEDn gives up on them), and so is a 400 "No combiner available." (the controller
   * could not reach a combiner that accepts clients: one not up yet, restarting or full; FEDn's
   * client logs it and exits 0); other 400s, 401 (unless refreshed) and 404 end the client.
   */
  async assign(remotePackage: boolean, signal: AbortSignal): Promise<Assignment> {
    const url = this.url("api/v1/clients/add");
    const payload = {
      name: this.config.name,
      client_id: this.config.clientId,
      preferred_combiner: this.config.preferredCombiner ?? "",
      // FEDn 0.33's route reads "combiner_preferred" (the client sends the other name, so the
      // preference is lost and a SQL statestore gets NULL in a NOT NULL column): send both.
      combiner_preferred: this.config.preferredCombiner ?? "",
      package: remotePackage ? "remote" : "local",
    };
    this.log.info(`Connecting to API endpoint: ${url}`);
    let failures = 0;
    for (;;) {
      let answer: HttpAnswer;
      try {
        this.log.debug(`POST ${url} ${JSON.stringify(payload)}`);
        answer = await send(url, {
          method: "POST",
          json: payload,
          headers: this.headers(),
          ...this.tls,
          signal,
        });
      } catch (error) {
        if (signal.aborted) throw error;
        const wait = this.backoff(failures++);
        this.log.warning(
          `Connect to FEDn Api - ${(error as Error).message}; retrying in ${(wait / 1000).toFixed(1)} s`,
        );
        await sleep(wait, signal);
        continue;
      }
      this.log.debug(`-> ${answer.status} ${answer.body.toString("utf8").trim()}`);
      const body = json(answer) as Record<string, unknown> | undefined;
      if (answer.status === 203 || (answer.status === 200 && body?.status === "retry")) {
        this.log.info(
          `Connect to FEDn Api - ${message(answer) || "try again later"}. Retrying in 3 seconds`,
        );
        await sleep(Math.min(PACKAGE_MISSING_RETRY_MS, this.config.retryMs), signal);
        continue;
      }
      if (answer.status === 200) {
        // FEDn 0.33 answers an unknown preferred combiner with 200 and a JSON list [body, 400].
        if (Array.isArray(body) && typeof body[0] === "object" && body[0] !== null) {
          const why = String((body[0] as { message?: unknown }).message ?? "assignment refused");
          throw new UsageError(`Connect to FEDn Api - ${why}`, { option: "preferred_combiner" });
        }
        if (body === undefined || body === null || typeof body !== "object" || !body.host) {
          throw new IoError(`Connect to FEDn Api - ${url} answered 200 without a combiner host`);
        }
        this.log.info("Connect to FEDn Api - Client assigned to controller");
        return {
          host: String(body.host),
          fqdn: typeof body.fqdn === "string" ? body.fqdn : "",
          port: Number(body.port ?? 0),
          clientId:
            typeof body.client_id === "string" && body.client_id
              ? body.client_id
              : this.config.clientId,
          helperType: typeof body.helper_type === "string" ? body.helper_type : "",
        };
      }
      if (answer.status === 401) {
        const why = message(answer) || "Unauthorized";
        if (why === "Token expired" && (await this.refreshToken(signal))) continue;
        throw new UsageError(`Connect to FEDn Api - Unauthorized (${why}): check --token`, {
          option: "token",
        });
      }
      if (answer.status === 400 && NO_COMBINER.test(message(answer))) {
        const wait = this.backoff(failures++);
        this.log.warning(
          `Connect to FEDn Api - ${message(answer)} Retrying in ${(wait / 1000).toFixed(1)} s`,
        );
        await sleep(wait, signal);
        continue;
      }
      if (answer.status === 400) {
        throw new UsageError(`Connect to FEDn Api - ${message(answer)}`, {});
      }
      if (answer.status === 404) {
        throw new UsageError(
          `Connect to FEDn Api - Incorrect URL: ${url} is not a FEDn controller`,
          {
            option: "api_url",
          },
        );
      }
      const wait = this.backoff(failures++);
      this.log.warning(
        `Connect to FEDn Api - HTTP ${answer.status} ${message(answer)}; retrying in ${(wait / 1000).toFixed(1)} s`,
      );
      await sleep(wait, signal);
    }
  }

  private backoff(failures: number): number {
    return Math.min(this.config.retryMs * 2 ** failures, this.config.retryMs * 16);
  }

  /**
   * `package_runtime.py`: `GET api/v1/packages/download` (the file name from
   * Content-Disposition), then `GET api/v1/packages/checksum`; the sha256 of the bytes must
   * match the controller's checksum and `--package-checksum` when given (FEDn checks only the
   * latter, and only then). Returns the file name and the bytes.
   */
  async downloadPackage(
    signal: AbortSignal,
  ): Promise<{ fileName: string; bytes: Buffer; sha256: string }> {
    const url = this.url("api/v1/packages/download");
    this.log.info(`Downloading compute package from ${url}`);
    const answer = await send(url, { headers: this.headers(), ...this.tls, signal });
    if (answer.status < 200 || answer.status >= 204) {
      throw new IoError(
        `compute package download ${url} failed: HTTP ${answer.status} ${message(answer)}`,
      );
    }
    const disposition = String(answer.headers["content-disposition"] ?? "");
    const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
    if (match === null) {
      throw new IoError(
        `compute package download ${url}: no file name in Content-Disposition (no package returned)`,
      );
    }
    const fileName = decodeURIComponent(match[1] as string);
    const sha256 = createHash("sha256").update(answer.body).digest("hex");
    const sumUrl = this.url("api/v1/packages/checksum");
    const sumAnswer = await send(sumUrl, { headers: this.headers(), ...this.tls, signal });
    const remote = (json(sumAnswer) as { checksum?: unknown } | undefined)?.checksum;
    if (sumAnswer.status >= 200 && sumAnswer.status < 204 && typeof remote === "string" && remote) {
      if (remote.toLowerCase() !== sha256) {
        throw new IoError(
          `compute package ${fileName}: sha256 ${sha256} does not match the controller's checksum ${remote}`,
          { file: fileName },
        );
      }
      this.log.info(`Package checksum ${sha256} matches the controller's`);
    } else if (this.config.packageChecksum === undefined) {
      this.log.warning(
        `The controller gave no package checksum (HTTP ${sumAnswer.status}); package not verified`,
      );
    }
    if (this.config.packageChecksum !== undefined && this.config.packageChecksum !== sha256) {
      throw new IoError(
        `compute package ${fileName}: sha256 ${sha256} does not match --package-checksum ${this.config.packageChecksum}`,
        { file: fileName, option: "package_checksum" },
      );
    }
    return { fileName, bytes: answer.body, sha256 };
  }
}
