/**
 * FEDn's gRPC protocol as the client speaks it: the messages, enums and services of package
 * `fedn`, written by us from the protocol (message names, field names, field numbers and types are
 * the wire contract of FEDn v0.33.0's `fedn/network/grpc/fedn.proto`; nothing of FEDn's file is
 * copied). Only what a client sends or receives is described; a message's unknown fields are
 * skipped by the decoder, so a newer combiner's additions do not break it.
 *
 * Why a descriptor object and `@grpc/proto-loader`'s `fromJSON` rather than a `.proto` file: the
 * codecs are then built from data inside the compiled module (no file to ship beside `dist/` and
 * find at run time), by protobufjs, which `@grpc/grpc-js` already depends on; the fake combiner
 * in the tests serves the same services from the same definition. Nothing is built at import
 * time: `protocol()` builds once, on first use.
 */
import type * as Grpc from "@grpc/grpc-js";

/** `fedn.StatusType`: what a status or task is about. */
export const StatusType = {
  LOG: 0,
  MODEL_UPDATE_REQUEST: 1,
  MODEL_UPDATE: 2,
  MODEL_VALIDATION_REQUEST: 3,
  MODEL_VALIDATION: 4,
  MODEL_PREDICTION: 5,
  NETWORK: 6,
  FORWARD_REQUEST: 7,
  FORWARD: 8,
  BACKWARD_REQUEST: 9,
  BACKWARD: 10,
} as const;

/** `fedn.LogLevel` of a `Status`. */
export const LogLevel = { NONE: 0, INFO: 1, DEBUG: 2, WARNING: 3, ERROR: 4, AUDIT: 5 } as const;

/** `fedn.ModelStatus` of a model chunk. */
export const ModelStatus = {
  OK: 0,
  IN_PROGRESS: 1,
  IN_PROGRESS_OK: 2,
  FAILED: 3,
  UNKNOWN: 4,
} as const;

/** `fedn.Role` of a sender or receiver. */
export const Role = { OTHER: 0, CLIENT: 1, COMBINER: 2, REDUCER: 3 } as const;

const enumValues = (e: Record<string, number>) => ({ values: e });
const field = (type: string, id: number, rule?: "repeated") =>
  rule === undefined ? { type, id } : { type, id, rule };

/** The protobufjs JSON descriptor (field numbers are FEDn's). */
const DESCRIPTOR = {
  nested: {
    google: {
      nested: {
        protobuf: {
          nested: {
            Timestamp: { fields: { seconds: field("int64", 1), nanos: field("int32", 2) } },
            UInt32Value: { fields: { value: field("uint32", 1) } },
          },
        },
      },
    },
    fedn: {
      nested: {
        StatusType: enumValues(StatusType),
        LogLevel: enumValues(LogLevel),
        ModelStatus: enumValues(ModelStatus),
        Role: enumValues(Role),
        Client: {
          fields: {
            role: field("Role", 1),
            name: field("string", 2),
            client_id: field("string", 3),
          },
        },
        Response: { fields: { sender: field("Client", 1), response: field("string", 2) } },
        Status: {
          fields: {
            sender: field("Client", 1),
            status: field("string", 2),
            log_level: field("LogLevel", 3),
            data: field("string", 4),
            correlation_id: field("string", 5),
            timestamp: field("google.protobuf.Timestamp", 6),
            type: field("StatusType", 7),
            extra: field("string", 8),
            session_id: field("string", 9),
          },
        },
        TaskRequest: {
          fields: {
            sender: field("Client", 1),
            receiver: field("Client", 2),
            model_id: field("string", 3),
            data: field("string", 4),
            correlation_id: field("string", 5),
            timestamp: field("string", 6),
            meta: field("string", 7),
            session_id: field("string", 8),
            type: field("StatusType", 9),
          },
        },
        ModelUpdate: {
          fields: {
            sender: field("Client", 1),
            receiver: field("Client", 2),
            model_id: field("string", 3),
            model_update_id: field("string", 4),
            correlation_id: field("string", 5),
            timestamp: field("string", 6),
            meta: field("string", 7),
            config: field("string", 8),
          },
        },
        ModelValidation: {
          fields: {
            sender: field("Client", 1),
            receiver: field("Client", 2),
            model_id: field("string", 3),
            data: field("string", 4),
            correlation_id: field("string", 5),
            timestamp: field("google.protobuf.Timestamp", 6),
            meta: field("string", 7),
            session_id: field("string", 8),
          },
        },
        ModelPrediction: {
          fields: {
            sender: field("Client", 1),
            receiver: field("Client", 2),
            model_id: field("string", 3),
            data: field("string", 4),
            correlation_id: field("string", 5),
            timestamp: field("google.protobuf.Timestamp", 6),
            meta: field("string", 7),
            prediction_id: field("string", 8),
          },
        },
        MetricElem: { fields: { key: field("string", 1), value: field("float", 2) } },
        ModelMetric: {
          fields: {
            sender: field("Client", 1),
            metrics: field("MetricElem", 2, "repeated"),
            timestamp: field("google.protobuf.Timestamp", 3),
            step: field("google.protobuf.UInt32Value", 4),
            model_id: field("string", 5),
            round_id: field("string", 6),
            session_id: field("string", 7),
          },
        },
        AttributeElem: { fields: { key: field("string", 1), value: field("string", 2) } },
        AttributeMessage: {
          fields: {
            sender: field("Client", 1),
            attributes: field("AttributeElem", 2, "repeated"),
            timestamp: field("google.protobuf.Timestamp", 3),
          },
        },
        TelemetryElem: { fields: { key: field("string", 1), value: field("float", 2) } },
        TelemetryMessage: {
          fields: {
            sender: field("Client", 1),
            telemetries: field("TelemetryElem", 2, "repeated"),
            timestamp: field("google.protobuf.Timestamp", 3),
          },
        },
        ModelRequest: {
          fields: {
            sender: field("Client", 1),
            receiver: field("Client", 2),
            data: field("bytes", 3),
            id: field("string", 4),
            status: field("ModelStatus", 5),
          },
        },
        ModelResponse: {
          fields: {
            data: field("bytes", 1),
            id: field("string", 2),
            status: field("ModelStatus", 3),
            message: field("string", 4),
          },
        },
        Heartbeat: {
          fields: {
            sender: field("Client", 1),
            memory_utilisation: field("float", 2),
            cpu_utilisation: field("float", 3),
          },
        },
        ClientAvailableMessage: {
          fields: {
            sender: field("Client", 1),
            data: field("string", 2),
            timestamp: field("string", 3),
          },
        },
        ModelService: {
          methods: {
            Upload: {
              requestType: "ModelRequest",
              requestStream: true,
              responseType: "ModelResponse",
            },
            Download: {
              requestType: "ModelRequest",
              responseType: "ModelResponse",
              responseStream: true,
            },
          },
        },
        Connector: {
          methods: {
            SendStatus: { requestType: "Status", responseType: "Response" },
            SendHeartbeat: { requestType: "Heartbeat", responseType: "Response" },
          },
        },
        Combiner: {
          methods: {
            TaskStream: {
              requestType: "ClientAvailableMessage",
              responseType: "TaskRequest",
              responseStream: true,
            },
            SendModelUpdate: { requestType: "ModelUpdate", responseType: "Response" },
            SendModelValidation: { requestType: "ModelValidation", responseType: "Response" },
            SendModelPrediction: { requestType: "ModelPrediction", responseType: "Response" },
            SendModelMetric: { requestType: "ModelMetric", responseType: "Response" },
            SendAttributeMessage: { requestType: "AttributeMessage", responseType: "Response" },
            SendTelemetryMessage: { requestType: "TelemetryMessage", responseType: "Response" },
          },
        },
      },
    },
  },
};

// Message shapes as decoded with `keepCase`, `defaults`, enums as numbers, int64 as strings.
/** `fedn.Client`: who sends or receives a message. */
export interface ClientRef {
  role: number;
  name: string;
  client_id: string;
}
/** `google.protobuf.Timestamp`. */
export interface Timestamp {
  seconds: string | number;
  nanos: number;
}
/** `fedn.TaskRequest`: a task the combiner streams to the client. */
export interface TaskRequest {
  sender: ClientRef | null;
  receiver: ClientRef | null;
  model_id: string;
  data: string;
  correlation_id: string;
  timestamp: string;
  meta: string;
  session_id: string;
  type: number;
}
/** `fedn.ModelResponse`: one chunk of a model download. */
export interface ModelResponse {
  data: Uint8Array;
  id: string;
  status: number;
  message: string;
}

/** The three service clients of a combiner. */
export interface Services {
  Connector: Grpc.ServiceClientConstructor;
  Combiner: Grpc.ServiceClientConstructor;
  ModelService: Grpc.ServiceClientConstructor;
}

let built: Services | undefined;

/** Builds (once) the services from the descriptor with the given `@grpc/grpc-js` module. */
export async function protocol(grpc: typeof Grpc): Promise<Services> {
  if (built === undefined) {
    const loader = await import("@grpc/proto-loader");
    const definition = loader.fromJSON(
      DESCRIPTOR as unknown as Parameters<typeof loader.fromJSON>[0],
      {
        keepCase: true,
        longs: String,
        enums: Number,
        defaults: true,
      },
    );
    const fedn = grpc.loadPackageDefinition(definition).fedn as Record<
      string,
      Grpc.ServiceClientConstructor
    >;
    built = {
      Connector: fedn.Connector as Grpc.ServiceClientConstructor,
      Combiner: fedn.Combiner as Grpc.ServiceClientConstructor,
      ModelService: fedn.ModelService as Grpc.ServiceClientConstructor,
    };
  }
  return built;
}

/** A `google.protobuf.Timestamp` for now (as Python's `GetCurrentTime()`). */
export function now(): Timestamp {
  const ms = Date.now();
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

/**
 * The time as Python's `str(datetime.now(timezone.utc))` writes it (`2026-01-01 12:00:00.123000+00:00`),
 * the string FEDn's client puts in `ModelUpdate.timestamp` (`grpc_handler.py: create_update_message`).
 */
export function pythonUtcNow(date: Date = new Date()): string {
  return `${date.toISOString().replace("T", " ").replace("Z", "")}000+00:00`;
}

/** Lower camel case, as protobuf's JSON mapping names fields (`model_id` -> `modelId`). */
function camel(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

const ENUM_FIELDS: Record<string, Record<string, number>> = {
  role: Role,
  type: StatusType,
  log_level: LogLevel,
  status: ModelStatus,
};

/**
 * A message as protobuf's `MessageToJson` writes it (FEDn puts the task or update in
 * `Status.data` this way): camel-case names, enum names, default values left out, indent 2.
 */
export function messageToJson(message: Record<string, unknown>): string {
  const convert = (value: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      if (v === null || v === undefined || v === "" || v === 0) continue;
      const names = ENUM_FIELDS[key];
      if (key === "timestamp" && typeof v === "object" && "seconds" in (v as object)) {
        const t = v as Timestamp;
        out[key] = new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6)).toISOString();
      } else if (names !== undefined && typeof v === "number") {
        out[camel(key)] = Object.keys(names).find((n) => names[n] === v) ?? v;
      } else if (typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array)) {
        const inner = convert(v as Record<string, unknown>);
        if (Object.keys(inner).length > 0) out[camel(key)] = inner;
      } else {
        out[camel(key)] = v;
      }
    }
    return out;
  };
  return JSON.stringify(convert(message), null, 2);
}
