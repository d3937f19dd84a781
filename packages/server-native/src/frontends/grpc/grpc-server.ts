// The KServe v2 gRPC front end (inference.GRPCInferenceService and grpc.health.v1.Health) on grpc-js,
// translating messages to and from the InferenceServer core.
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { PROTO_DIR, PROTO_FILES, isDataType } from "@iaas/client/protocol";
import { ServerError, decoding, invalidArg, toServerError } from "../../core/errors.ts";
import type { InferenceServer } from "../../core/inference-server.ts";
import type { InferInput, InferRequest, InferResponse, Parameters, RequestedOutput } from "../../core/types.ts";
import { contentsToRaw, type GrpcContents } from "./contents.ts";

const MAX_MESSAGE_BYTES = 2 ** 31 - 1;

export interface GrpcFrontendOptions {
  host: string;
  port: number;
  log?: (message: string) => void;
}

export interface GrpcFrontend {
  readonly port: number;
  close(): Promise<void>;
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

interface GrpcInferRequest {
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

function rejectSharedMemory(params: Parameters | undefined, where: string): void {
  if (params && ("shared_memory_region" in params || "shared_memory_byte_size" in params || "shared_memory_offset" in params))
    throw new ServerError("UNSUPPORTED", `${where}: shared memory tensors are not supported by this server`);
}

function decodeInfer(req: GrpcInferRequest): InferRequest {
  const model = req.model_name;
  const raw = req.raw_input_contents ?? [];
  if (raw.length > 0 && raw.length !== req.inputs.length)
    throw invalidArg(`raw_input_contents has ${raw.length} entries but the request has ${req.inputs.length} inputs for model '${model}'; send one per input`);
  const inputs = req.inputs.map((t, i): InferInput => {
    const where = `input '${t.name}'`;
    if (!isDataType(t.datatype)) throw invalidArg(`${where}: unknown datatype '${t.datatype}'`);
    const shape = t.shape.map((d) => Number(d));
    if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw invalidArg(`${where}: invalid shape [${t.shape.join(",")}]`);
    const params = parameters(t.parameters);
    rejectSharedMemory(params, where);
    let data: Buffer;
    if (raw.length > 0) {
      if (t.contents) throw invalidArg(`contents field must not be specified when using raw_input_contents for '${t.name}' for model '${model}'`);
      data = raw[i]!;
    } else {
      if (!t.contents) throw invalidArg(`${where} for model '${model}' has no data: set its contents or send raw_input_contents`);
      data = decoding(() => contentsToRaw(t.datatype as never, shape, t.contents!, where));
    }
    const input: InferInput = { name: t.name, datatype: t.datatype, shape, data };
    if (params) input.parameters = params;
    return input;
  });
  const outputs = req.outputs.map((o): RequestedOutput => {
    const params = parameters(o.parameters);
    rejectSharedMemory(params, `output '${o.name}'`);
    if (params?.classification !== undefined)
      throw new ServerError("UNSUPPORTED", `output '${o.name}': the classification extension is not supported by this server`);
    return params ? { name: o.name, parameters: params } : { name: o.name };
  });
  const request: InferRequest = { model, version: req.model_version, inputs, outputs };
  if (req.id !== "") request.id = req.id;
  const params = parameters(req.parameters);
  if (params) request.parameters = params;
  return request;
}

function encodeInfer(response: InferResponse): unknown {
  return {
    model_name: response.model_name,
    model_version: response.model_version,
    id: response.id ?? "",
    outputs: response.outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape })),
    raw_output_contents: response.outputs.map((o) => o.data),
  };
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
  const grpcServer = new grpc.Server({
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
  });

  const fail = (err: unknown): grpc.ServiceError => {
    const e = toServerError(err);
    if (e.status === "INTERNAL") log(`internal error: ${e.stack ?? e.message}`);
    return Object.assign(new Error(e.message), { code: e.grpcCode, details: e.message, metadata: new grpc.Metadata() });
  };
  const unary = (fn: (request: any) => unknown | Promise<unknown>): Unary => (call, callback) => {
    Promise.resolve()
      .then(() => fn(call.request))
      .then(
        (result) => callback(null, result),
        (err: unknown) => callback(fail(err)),
      );
  };
  const unimplemented = (rpc: string): Unary => (_call, callback) =>
    callback({ code: grpc.status.UNIMPLEMENTED, details: `${rpc} is not implemented by the iaas server`, name: "Error", message: rpc, metadata: new grpc.Metadata() });

  const modelInfer = async (req: GrpcInferRequest): Promise<unknown> => {
    const receivedAt = process.hrtime.bigint();
    return encodeInfer(await server.infer(decodeInfer(req), receivedAt));
  };

  grpcServer.addService(pkg.inference.GRPCInferenceService.service, {
    ServerLive: unary(() => ({ live: server.isLive() })),
    ServerReady: unary(() => ({ ready: server.isReady() })),
    ModelReady: unary((r: { name: string; version: string }) => ({ ready: server.modelReady(r.name, r.version) })),
    ServerMetadata: unary(() => server.serverMetadata()),
    ModelMetadata: unary((r: { name: string; version: string }) => server.modelMetadata(r.name, r.version)),
    ModelInfer: unary(modelInfer),
    ModelStreamInfer: (call: grpc.ServerDuplexStream<GrpcInferRequest, unknown>) => {
      // Responses go out as each request completes; errors travel in-band so the stream stays open.
      let pending = 0;
      let ended = false;
      const finish = (): void => {
        if (ended && pending === 0) call.end();
      };
      call.on("data", (req: GrpcInferRequest) => {
        pending++;
        modelInfer(req)
          .then(
            (infer_response) => call.write({ error_message: "", infer_response }),
            (err: unknown) => call.write({ error_message: toServerError(err).message }),
          )
          .finally(() => {
            pending--;
            finish();
          });
      });
      call.on("end", () => {
        ended = true;
        finish();
      });
      call.on("error", () => {});
    },
    ModelConfig: unary((r: { name: string; version: string }) => ({ config: server.modelConfig(r.name, r.version) })),
    ModelStatistics: unary((r: { name: string; version: string }) => ({
      model_stats: bigintsToStrings(server.statistics(r.name, r.version)),
    })),
    RepositoryIndex: unary(async (r: { ready: boolean }) => ({
      models: (await server.repositoryIndex(r.ready)).map((m) => ({ name: m.name, version: m.version ?? "", state: m.state, reason: m.reason })),
    })),
    RepositoryModelLoad: unary(async (r: { model_name: string; parameters: Record<string, GrpcParam> }) => {
      const params = r.parameters ?? {};
      const fileKey = Object.keys(params).find((k) => k.startsWith("file:"));
      if (fileKey !== undefined) throw new ServerError("UNSUPPORTED", `load parameter '${fileKey}': model file uploads are not supported by this server`);
      const config = params.config;
      if (config !== undefined && config.parameter_choice !== "string_param")
        throw invalidArg("load parameter 'config' must be a string_param holding ModelConfig JSON");
      await server.loadModel(r.model_name, config?.string_param);
      return {};
    }),
    RepositoryModelUnload: unary(async (r: { model_name: string }) => {
      await server.unloadModel(r.model_name);
      return {};
    }),
    SystemSharedMemoryStatus: unimplemented("SystemSharedMemoryStatus"),
    SystemSharedMemoryRegister: unimplemented("SystemSharedMemoryRegister"),
    SystemSharedMemoryUnregister: unimplemented("SystemSharedMemoryUnregister"),
    CudaSharedMemoryStatus: unimplemented("CudaSharedMemoryStatus"),
    CudaSharedMemoryRegister: unimplemented("CudaSharedMemoryRegister"),
    CudaSharedMemoryUnregister: unimplemented("CudaSharedMemoryUnregister"),
    TraceSetting: unimplemented("TraceSetting"),
    LogSettings: unimplemented("LogSettings"),
  });

  grpcServer.addService(pkg.grpc.health.v1.Health.service, {
    Check: unary((r: { service: string }) => {
      if (r.service !== "" && r.service !== "inference.GRPCInferenceService")
        throw new ServerError("NOT_FOUND", `unknown service '${r.service}'; this server serves inference.GRPCInferenceService`);
      return { status: server.isReady() ? "SERVING" : "NOT_SERVING" };
    }),
  });

  const port = await new Promise<number>((resolve, reject) => {
    grpcServer.bindAsync(`${options.host}:${options.port}`, grpc.ServerCredentials.createInsecure(), (err, boundPort) =>
      err ? reject(err) : resolve(boundPort),
    );
  });
  log(`gRPC front end listening on ${options.host}:${port}`);

  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        grpcServer.tryShutdown(() => resolve());
        // Streams or slow clients must not hold shutdown forever.
        setTimeout(() => grpcServer.forceShutdown(), 2000).unref();
      }),
  };
}
