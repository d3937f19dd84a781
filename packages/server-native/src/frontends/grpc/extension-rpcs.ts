// gRPC side of Triton's model_repository, trace and logging extensions, and the gate that answers
// UNIMPLEMENTED (as KServe's and MLServer's gRPC servers do for RPCs they lack) for the RPCs of a
// disabled extension.
import * as grpc from "@grpc/grpc-js";
import { invalidArg } from "../../core/errors.ts";
import type { InferenceServer } from "../../core/inference-server.ts";
import type { LogSettingValues } from "../../core/log-settings.ts";
import { loadEndpoint, logSettingsEndpoint, traceSettingsEndpoint, unloadEndpoint } from "../../core/settings-endpoints.ts";
import type { TraceSettingsWire } from "../../core/trace-settings.ts";

/** ModelRepositoryParameter / LogSettings SettingValue as proto-loader decodes them (oneofs: true). */
interface OneofValue {
  parameter_choice?: string;
  bool_param?: boolean;
  int64_param?: string;
  uint32_param?: number;
  string_param?: string;
  bytes_param?: Buffer;
}

const RPC_EXTENSION: Readonly<Record<string, string>> = {
  ModelConfig: "model_configuration",
  ModelStatistics: "statistics",
  RepositoryIndex: "model_repository",
  RepositoryModelLoad: "model_repository",
  RepositoryModelUnload: "model_repository",
  TraceSetting: "trace",
  LogSettings: "logging",
};

/** Replaces the handlers of RPCs whose extension is disabled with an UNIMPLEMENTED answer. */
export function gateRpcs<H>(server: InferenceServer, handlers: Record<string, H>): Record<string, H> {
  const out: Record<string, H> = { ...handlers };
  for (const [rpc, extension] of Object.entries(RPC_EXTENSION)) {
    if (server.extensions.has(extension) || !(rpc in out)) continue;
    const details = `${rpc} is not supported: the ${extension} extension is disabled on this server`;
    const unimplemented = (_call: unknown, callback: grpc.sendUnaryData<unknown>): void =>
      callback({ code: grpc.status.UNIMPLEMENTED, details, message: details, name: "Error", metadata: new grpc.Metadata() });
    out[rpc] = unimplemented as H;
  }
  return out;
}

/** A oneof value as a plain JS value (the one field set), or undefined when none is. */
function oneof(v: OneofValue | undefined): unknown {
  switch (v?.parameter_choice) {
    case "bool_param":
      return v.bool_param === true;
    case "uint32_param":
      return v.uint32_param ?? 0;
    case "string_param":
      return v.string_param ?? "";
    case "int64_param": {
      const n = Number(v.int64_param ?? "0");
      return Number.isSafeInteger(n) ? n : BigInt(v.int64_param ?? "0");
    }
    case "bytes_param":
      return v.bytes_param ?? Buffer.alloc(0);
    default:
      return undefined;
  }
}

function oneofMap(map: Record<string, OneofValue> | undefined, what: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(map ?? {})) {
    const value = oneof(v);
    if (value === undefined) throw invalidArg(`${what} '${k}' has no value`);
    out[k] = value;
  }
  return out;
}

function logSettingsToWire(s: LogSettingValues): Record<string, OneofValue> {
  const out: Record<string, OneofValue> = {};
  for (const [k, v] of Object.entries(s))
    out[k] = typeof v === "boolean" ? { bool_param: v } : typeof v === "number" ? { uint32_param: v } : { string_param: v };
  return out;
}

function traceSettingsToWire(s: TraceSettingsWire): Record<string, { value: string[] }> {
  const out: Record<string, { value: string[] }> = {};
  for (const [k, v] of Object.entries(s)) out[k] = { value: Array.isArray(v) ? v : [v] };
  return out;
}

export function extensionRpcs<H>(server: InferenceServer, unary: (fn: (request: any) => unknown) => H): Record<string, H> {
  return {
    RepositoryIndex: unary(async (r: { ready: boolean }) => ({
      models: (await server.repositoryIndex(r.ready)).map((m) => ({ name: m.name, version: m.version ?? "", state: m.state, reason: m.reason })),
    })),
    RepositoryModelLoad: unary(async (r: { model_name: string; parameters: Record<string, OneofValue> }) => {
      await loadEndpoint(
        server,
        r.model_name,
        oneofMap(r.parameters, "load parameter"),
        (key, value) => {
          if (Buffer.isBuffer(value)) return value;
          // Text content is accepted too (a string_param holding the file), as UTF-8.
          if (typeof value === "string") return Buffer.from(value, "utf8");
          throw invalidArg(`load parameter '${key}' must be a bytes_param holding the file's content`);
        },
        (v) => {
          if (typeof v !== "string") throw invalidArg("load parameter 'config' must be a string_param holding ModelConfig JSON");
          return v;
        },
      );
      return {};
    }),
    RepositoryModelUnload: unary(async (r: { model_name: string; parameters: Record<string, OneofValue> }) => {
      await unloadEndpoint(server, r.model_name, oneofMap(r.parameters, "unload parameter"));
      return {};
    }),
    TraceSetting: unary(async (r: { settings: Record<string, { value: string[] }>; model_name: string }) => {
      const entries = Object.entries(r.settings ?? {});
      // An empty value list clears a setting (Triton's gRPC form of JSON null).
      const update = entries.length === 0 ? undefined : Object.fromEntries(entries.map(([k, v]) => [k, v.value.length === 0 ? null : v.value]));
      return { settings: traceSettingsToWire(await traceSettingsEndpoint(server, r.model_name || undefined, update)) };
    }),
    LogSettings: unary((r: { settings: Record<string, OneofValue> }) => {
      const update = oneofMap(r.settings, "log setting");
      return { settings: logSettingsToWire(logSettingsEndpoint(server, Object.keys(update).length === 0 ? undefined : update)) };
    }),
  };
}
