/**
 * FEDn's settings files, in one place: a model file's metadata lives beside it as
 * `<model>-metadata` (train's `num_examples`, and since FEDn 0.19 the round's `client_settings`,
 * which the client writes to `<in_model>-metadata` before `train`); `client_settings` themselves
 * are a flat JSON object, given to the tools as `--client-settings`.
 */
import { parsePythonJson } from "../codec/pyjson.js";
import { UsageError } from "../errors.js";

/** `<model>-metadata`: where FEDn keeps a model file's metadata (the one place that spells it). */
export function metadataPathOf(modelPath: string): string {
  return `${modelPath}-metadata`;
}

/** Parses `--client-settings`: a JSON object, as FEDn's round config holds (undefined: none). */
export function parseClientSettings(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    // Read as FEDn's Python reads it: bare NaN/Infinity are numbers there.
    value = parsePythonJson(text);
  } catch (error) {
    throw new UsageError(
      `option --client-settings expects a JSON object: ${(error as Error).message}`,
      { option: "client_settings", cause: error },
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UsageError(
      `option --client-settings expects a JSON object, found ${JSON.stringify(value)}`,
      { option: "client_settings" },
    );
  }
  return value as Record<string, unknown>;
}
