// The KServe v2 gRPC front end (inference.GRPCInferenceService and grpc.health.v1.Health) on grpc-js,
// translating messages to and from the InferenceServer core.
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { PROTO_DIR, PROTO_FILES, isDataType } from "@iaas/client/protocol";
import { ServerError, decoding, invalidArg, toServerError } from "../../core/errors.ts";
import type { InferenceServer } from "../../core/inference-server.ts";
import type { LogFn } from "../../core/log-settings.ts";
import type { InferInput, InferRequest, InferResponse, Parameters, RequestedOutput } from "../../core/types.ts";
import type { Authenticator } from "../../security/auth.ts";
import { grpcServerCredentials, type ResolvedTls } from "../../security/tls.ts";
import { authInterceptor } from "./auth-interceptor.ts";
import { frameInferResponse, inferRequestDeserializer, inferResponseSerializer } from "./infer-wire.ts";
import { takeModelInferStreams, type FastInferCall } from "./model-infer-fast-path.ts";
import { GrpcCallError } from "./grpc-call-error.ts";
import { decodeModelInferDirect, encodeModelInferDirect } from "./infer-direct.ts";
import { contentsToRaw, type GrpcContents } from "./contents.ts";
import { modelStreamInfer } from "./stream-infer.ts";
import { widenConnectionWindowAfterBind, widenSettingsBeforeBind } from "./http2-windows.ts";
import { extensionRpcs, gateRpcs } from "./extension-rpcs.ts";
import { parametersToGrpc } from "./response-parameters.ts";
import { canSendTyped, rawToContents } from "./typed-outputs.ts";
import { sharedMemoryHandlers } from "./shared-memory-rpcs.ts";
import { rawInputFor, sharedMemoryOutputParameters } from "./shared-memory-tensors.ts";
import { sharedMemoryRef } from "../../shared-memory/tensor-parameters.ts";

/** grpc-js's ceiling (as Triton, which sets INT32_MAX): the default receive and send limit. */
export const MAX_GRPC_MESSAGE_BYTES = 2 ** 31 - 1;
const EMPTY = Buffer.alloc(0);

export interface GrpcFrontendOptions {
  host: string;
  port: number;
  /** Serve TLS (and require client certificates when `tls.mutual`). */
  tls?: ResolvedTls;
  /** Refuse calls without accepted credentials (UNAUTHENTICATED). */
  auth?: Authenticator;
  log?: LogFn;
  /** Largest accepted request message; larger ones fail with RESOURCE_EXHAUSTED. Default MAX_GRPC_MESSAGE_BYTES. */
  maxReceiveBytes?: number;
}

export interface GrpcFrontend {
  readonly port: number;
  /** Stops accepting calls, lets calls and streams in flight finish; after `graceMs` (default 2000) cuts the rest. */
  close(graceMs?: number): Promise<void>;
}

type GrpcParam = {
  parameter_choice?: string;
  bool_param?: boolean;
  int64_param?: string;
  string_param?: string;
  double_param?: number;
  uint64_param?: string;
  bytes_param?: Buffer;
};

export interface GrpcInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, GrpcParam>;
  inputs: { name: string; datatype: string; shape: string[]; parameters: Record<string, GrpcParam>; contents: GrpcContents | null }[];
  outputs: { name: string; parameters: Record<string, GrpcParam> }[];
  raw_input_contents: Buffer[];
}

function loadDefinitions(): grpc.GrpcObject {
  const definition = protoLoader.loadSync(
    PROTO_FILES.map((f) => join(PROTO_DIR, f)),
    { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR] },
  );
  return grpc.loadPackageDefinition(definition);
}

function int64Value(text: string): number | bigint {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

function parameters(map: Record<string, GrpcParam> | undefined): Parameters | undefined {
  if (map === undefined) return undefined;
  const keys = Object.keys(map);
  if (keys.length === 0) return undefined;
  const out: Parameters = {};
  for (const k of keys) {
    const p = map[k]!;
    switch (p.parameter_choice) {
      case "bool_param": out[k] = p.bool_param === true; break;
      case "int64_param": out[k] = int64Value(p.int64_param ?? "0"); break;
      case "uint64_param": out[k] = int64Value(p.uint64_param ?? "0"); break;
      case "double_param": out[k] = p.double_param ?? 0; break;
      case "string_param": out[k] = p.string_param ?? ""; break;
      default: throw invalidArg(`parameter '${k}' has no value`);
    }
  }
  return out;
}

export function decodeInfer(req: GrpcInferRequest, sharedMemoryEnabled: boolean): InferRequest {
  const model = req.model_name;
  const raw = req.raw_input_contents ?? [];
  const inputParams = req.inputs.map((t) => parameters(t.parameters));
  const shmInputs = req.inputs.map((t, i) => sharedMemoryRef(inputParams[i], `input '${t.name}'`, sharedMemoryEnabled));
  const rawIndex = rawInputFor(raw.length, shmInputs, model);
  const inputs = req.inputs.map((t, i): InferInput => {
    const where = `input '${t.name}'`;
    if (!isDataType(t.datatype)) throw invalidArg(`${where}: unknown datatype '${t.datatype}'`);
    const shape = t.shape.map((d) => Number(d));
    if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw invalidArg(`${where}: invalid shape [${t.shape.join(",")}]`);
    const params = inputParams[i];
    const shm = shmInputs[i];
    let data: Buffer;
    if (shm !== undefined) {
      if (t.contents || (rawIndex[i] !== undefined && raw[rawIndex[i]!]!.byteLength > 0))
        throw invalidArg(`${where} for model '${model}' takes its data from shared memory; do not send contents or raw_input_contents for it`);
      data = EMPTY;
    } else if (raw.length > 0) {
      if (t.contents) throw invalidArg(`contents field must not be specified when using raw_input_contents for '${t.name}' for model '${model}'`);
      data = raw[rawIndex[i]!]!;
    } else {
      if (!t.contents) throw invalidArg(`${where} for model '${model}' has no data: set its contents or send raw_input_contents`);
      data = decoding(() => contentsToRaw(t.datatype as never, shape, t.contents!, where));
    }
    const input: InferInput = { name: t.name, datatype: t.datatype, shape, data };
    if (params) input.parameters = params;
    if (shm) input.sharedMemory = shm;
    return input;
  });
  const outputs = req.outputs.map((o): RequestedOutput => {
    const params = parameters(o.parameters);
    const shm = sharedMemoryRef(params, `output '${o.name}'`, sharedMemoryEnabled);
    const output: RequestedOutput = params ? { name: o.name, parameters: params } : { name: o.name };
    if (shm) output.sharedMemory = shm;
    return output;
  });
  const request: InferRequest = { model, version: req.model_version, inputs, outputs };
  if (req.id !== "") request.id = req.id;
  const params = parameters(req.parameters);
  if (params) request.parameters = params;
  return request;
}

/**
 * ModelInferResponse. Outputs go as raw_output_contents (as Triton), or with `typed` as typed contents
 * (as KServe and MLServer; used when binary_tensor_data is disabled) where every datatype has a field.
 */
export function encodeInfer(response: InferResponse, typed = false): unknown {
  const message: Record<string, unknown> = {
    model_name: response.model_name,
    model_version: response.model_version,
    id: response.id ?? "",
    outputs: response.outputs.map((o) =>
      o.sharedMemory
        ? { name: o.name, datatype: o.datatype, shape: o.shape, parameters: sharedMemoryOutputParameters(o.sharedMemory) }
        : { name: o.name, datatype: o.datatype, shape: o.shape },
    ),
    // Shared-memory outputs keep an empty entry, so entries stay one per output in output order (as Triton).
    raw_output_contents: response.outputs.map((o) => o.data),
  };
  const params = parametersToGrpc(response.parameters);
  if (params !== undefined) message.parameters = params;
  if (typed && canSendTyped(response.outputs.map((o) => o.datatype)) && !response.outputs.some((o) => o.sharedMemory)) {
    message.outputs = response.outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape, contents: rawToContents(o.datatype, o.data) }));
    delete message.raw_output_contents;
  }
  return message;
}

/** bigint counters to decimal strings, which protobufjs takes for uint64 fields without loss. */
function bigintsToStrings(value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return value.map(bigintsToStrings);
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = bigintsToStrings(v);
    return out;
  }
  return value;
}

type Unary = (call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) => void;

export async function startGrpcFrontend(server: InferenceServer, options: GrpcFrontendOptions): Promise<GrpcFrontend> {
  const log = options.log ?? (() => {});
  const pkg = loadDefinitions() as any;
  // ModelInfer through the hand-written codec for its common messages (protobufjs for everything else).
  const inferService = pkg.inference.GRPCInferenceService.service;
  const inferMethod = inferService.ModelInfer;
  inferService.ModelInfer = {
    ...inferMethod,
    requestDeserialize: inferRequestDeserializer(inferMethod.requestDeserialize),
    responseSerialize: inferResponseSerializer(inferMethod.responseSerialize),
  };
  const grpcServer = new grpc.Server({
    "grpc.max_receive_message_length": options.maxReceiveBytes ?? MAX_GRPC_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_GRPC_MESSAGE_BYTES,
    // iaas serves no channelz service, so grpc-js' per-call channelz bookkeeping (a tracker object with six
    // closures and timestamps per call) would only be written, never read.
    "grpc.enable_channelz": 0,
    interceptors: options.auth ? [authInterceptor(options.auth, log)] : [],
  });

  const fail = (err: unknown): grpc.ServiceError => {
    const e = toServerError(err);
    if (e.status === "INTERNAL") log(`internal error: ${e.stack ?? e.message}`, "error");
    return Object.assign(new Error(e.message), { code: e.grpcCode, details: e.message, metadata: new grpc.Metadata() });
  };
  // A synchronous throw and a rejection both become the call's error; a promise is awaited with one
  // reaction (no extra promise turns per call: ModelInfer goes through here).
  const unary = (fn: (request: any, call: grpc.ServerUnaryCall<any, any>) => unknown | Promise<unknown>): Unary => (call, callback) => {
    let result: unknown;
    try {
      result = fn(call.request, call);
    } catch (err) {
      callback(fail(err));
      return;
    }
    if (result instanceof Promise)
      result.then(
        (value) => callback(null, value),
        (err: unknown) => callback(fail(err)),
      );
    else callback(null, result);
  };
  const unimplemented = (rpc: string): Unary => (_call, callback) =>
    callback({ code: grpc.status.UNIMPLEMENTED, details: `${rpc} is not implemented by the iaas server`, name: "Error", message: rpc, metadata: new grpc.Metadata() });

  // Not async: a decoding error throws straight to `unary`, which answers it like a rejection.
  const modelInfer = (req: GrpcInferRequest, call: grpc.ServerUnaryCall<GrpcInferRequest, unknown>): Promise<unknown> => {
    const receivedAt = process.hrtime.bigint();
    const request = decodeInfer(req, server.systemSharedMemory !== undefined);
    request.traceCarrier = call.metadata;
    request.protocol = "grpc";
    return server.infer(request, receivedAt).then((response) => encodeInfer(response, !server.extensions.has("binary_tensor_data")));
  };

  grpcServer.addService(pkg.inference.GRPCInferenceService.service, gateRpcs(server, {
    ServerLive: unary(() => ({ live: server.isLive() })),
    ServerReady: unary(() => ({ ready: server.isReady() })),
    ModelReady: unary((r: { name: string; version: string }) => ({ ready: server.modelReady(r.name, r.version) })),
    ServerMetadata: unary(() => server.serverMetadata()),
    ModelMetadata: unary((r: { name: string; version: string }) => server.modelMetadata(r.name, r.version)),
    ModelInfer: unary(modelInfer),
    ModelStreamInfer: modelStreamInfer(server, {
      decode: (req) => decodeInfer(req, server.systemSharedMemory !== undefined),
      encode: (response) => encodeInfer(response, !server.extensions.has("binary_tensor_data")),
      log,
    }),
    ModelConfig: unary((r: { name: string; version: string }) => ({ config: server.modelConfig(r.name, r.version) })),
    ModelStatistics: unary((r: { name: string; version: string }) => ({
      model_stats: bigintsToStrings(server.statistics(r.name, r.version)),
    })),
    // RepositoryIndex/ModelLoad/ModelUnload, TraceSetting, LogSettings.
    ...extensionRpcs(server, unary),
    ...sharedMemoryHandlers(server, unary),
    CudaSharedMemoryStatus: unimplemented("CudaSharedMemoryStatus"),
    CudaSharedMemoryRegister: unimplemented("CudaSharedMemoryRegister"),
    CudaSharedMemoryUnregister: unimplemented("CudaSharedMemoryUnregister"),
  }));

  grpcServer.addService(pkg.grpc.health.v1.Health.service, {
    Check: unary((r: { service: string }) => {
      if (r.service !== "" && r.service !== "inference.GRPCInferenceService")
        throw new ServerError("NOT_FOUND", `unknown service '${r.service}'; this server serves inference.GRPCInferenceService`);
      return { status: server.isReady() ? "SERVING" : "NOT_SERVING" };
    }),
  });

  const widened = widenSettingsBeforeBind(grpcServer);
  const port = await new Promise<number>((resolve, reject) => {
    grpcServer.bindAsync(`${options.host}:${options.port}`, grpcServerCredentials(options.tls), (err, boundPort) =>
      err ? reject(err) : resolve(boundPort),
    );
  });
  if (!(widened && widenConnectionWindowAfterBind(grpcServer)))
    log("gRPC front end: this grpc-js hides its HTTP/2 settings; large tensors cross with 64 KiB windows and 16 KiB frames", "warning");
  // Plain unary ModelInfer calls skip grpc-js's per-call machinery (model-infer-fast-path.ts).
  // IAAS_GRPC_FAST_INFER=0 leaves them to grpc-js (for A/B measurements).
  const deserializeInfer = pkg.inference.GRPCInferenceService.service.ModelInfer.requestDeserialize as (bytes: Buffer) => GrpcInferRequest;
  const serializeInfer = inferMethod.responseSerialize as (value: unknown) => Buffer;
  const fastInfer = (message: Buffer, call: FastInferCall): void => {
    let request: InferRequest | undefined;
    try {
      request = decodeModelInferDirect(message);
      if (request === undefined) {
        let decoded: GrpcInferRequest;
        try {
          decoded = deserializeInfer(message);
        } catch (err) {
          // As grpc-js answers an undecodable message (and Triton's C++ server): INTERNAL.
          throw new GrpcCallError(grpc.status.INTERNAL, `Error deserializing request: ${err instanceof Error ? err.message : String(err)}`);
        }
        request = decodeInfer(decoded, server.systemSharedMemory !== undefined);
      }
    } catch (err) {
      call.fail(err);
      return;
    }
    request.traceCarrier = call.headers;
    request.protocol = "grpc";
    server.infer(request, call.receivedAt).then(
      (response) => {
        let frame: Buffer | undefined;
        try {
          const typed = !server.extensions.has("binary_tensor_data");
          frame = (typed ? undefined : encodeModelInferDirect(response)) ?? frameInferResponse(encodeInfer(response, typed), serializeInfer);
        } catch (err) {
          call.fail(err);
          return;
        }
        call.answer(frame);
      },
      (err: unknown) => call.fail(err),
    );
  };
  const fastPath =
    process.env.IAAS_GRPC_FAST_INFER === "0"
      ? undefined
      : takeModelInferStreams(grpcServer, { maxReceiveBytes: options.maxReceiveBytes ?? MAX_GRPC_MESSAGE_BYTES, maxSendBytes: MAX_GRPC_MESSAGE_BYTES, auth: options.auth, log, infer: fastInfer });
  if (fastPath === undefined && process.env.IAAS_GRPC_FAST_INFER !== "0")
    log("gRPC front end: this grpc-js hides its HTTP/2 servers; ModelInfer runs through grpc-js's call handling", "warning");
  log(`gRPC front end listening on ${options.host}:${port}`);

  return {
    port,
    close: (graceMs = 2000) =>
      new Promise<void>((resolve) => {
        // Streams or slow clients must not hold shutdown forever. forceShutdown does not call tryShutdown's
        // callback when grpc-js waits on a session that died before its handshake (e.g. a TLS client on a
        // plaintext port, grpc-node#1458), so the forced path resolves by itself; the timer stays ref'd so
        // the process lives until close() has settled.
        const force = setTimeout(() => {
          grpcServer.forceShutdown();
          resolve();
        }, graceMs);
        // Sessions close once their streams have; a fast-path inference whose client went away (or whose
        // deadline passed) has no stream left, so it is waited for by itself.
        grpcServer.tryShutdown(() => {
          const done = (): void => {
            clearTimeout(force);
            resolve();
          };
          if (fastPath === undefined) done();
          else void fastPath.idle().then(done);
        });
      }),
  };
}
