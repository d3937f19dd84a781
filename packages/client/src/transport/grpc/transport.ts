// KServe v2 over gRPC (GRPCInferenceService) with @grpc/grpc-js: deadlines, cancellation via call.cancel(),
// Triton's 2 GiB message limits.
import * as grpc from "@grpc/grpc-js";
import type { CallOptions, ModelMetadata, ModelStatistics, ServerMetadata, TensorMetadata } from "../../api.ts";
import { InferenceError } from "../../errors.ts";
import { toModelStatistics } from "../../statistics.ts";
import { cancelledError, deadlineError } from "../call-scope.ts";
import type { InferRequest, InferResponse, LoadRequest, ModelRef, StatisticsRequest, Transport } from "../transport.ts";
import { decodeInferResponse, encodeInferRequest, type WireInferResponse } from "./infer-codec.ts";
import { MAX_MESSAGE_LENGTH, inferenceServiceClient } from "./service.ts";

export interface GrpcTransportOptions {
  /** host:port, grpc://host:port, or grpcs://host:port for TLS. */
  url: string;
  /** TLS credentials; default: insecure for grpc:// and bare host:port, system roots for grpcs://. */
  credentials?: grpc.ChannelCredentials;
  /** Extra grpc-js channel options (merged over the defaults). */
  channelOptions?: grpc.ChannelOptions;
}

type Callback = (error: grpc.ServiceError | null, response?: unknown) => void;
type UnaryMethod = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback) => grpc.ClientUnaryCall;

interface Target {
  address: string;
  secure: boolean;
}

function parseTarget(url: string): Target {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(url);
  if (!m) return { address: url, secure: false };
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!.replace(/\/+$/, "");
  if (scheme === "grpc" || scheme === "http") return { address: rest, secure: false };
  if (scheme === "grpcs" || scheme === "https") return { address: rest, secure: true };
  throw new InferenceError("invalid_argument", `gRPC transport needs host:port, grpc:// or grpcs://, got ${url}`);
}

function tensorMetadata(list: unknown): TensorMetadata[] {
  if (!Array.isArray(list)) return [];
  return list.map((t: { name?: string; datatype?: string; shape?: (string | number)[] }) => ({
    name: t.name ?? "",
    datatype: t.datatype ?? "",
    shape: (t.shape ?? []).map((d) => Number(d)),
  }));
}

export class GrpcTransport implements Transport {
  readonly protocol = "grpc" as const;
  readonly url: string;
  readonly #client: grpc.Client & Record<string, UnaryMethod>;

  constructor(options: GrpcTransportOptions) {
    const target = parseTarget(options.url);
    if (target.address === "") throw new InferenceError("invalid_argument", `gRPC URL has no host:port: ${options.url}`);
    this.url = target.address;
    const credentials =
      options.credentials ?? (target.secure ? grpc.credentials.createSsl() : grpc.credentials.createInsecure());
    const Ctor = inferenceServiceClient();
    this.#client = new Ctor(target.address, credentials, {
      "grpc.max_send_message_length": MAX_MESSAGE_LENGTH,
      "grpc.max_receive_message_length": MAX_MESSAGE_LENGTH,
      ...options.channelOptions,
    }) as unknown as grpc.Client & Record<string, UnaryMethod>;
  }

  #unary<T>(method: string, request: unknown, call: CallOptions, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const signal = call.signal;
      if (signal?.aborted) return reject(cancelledError(what, signal.reason));
      const timeoutMs = call.timeoutMs;
      if (timeoutMs !== undefined && !(timeoutMs >= 0))
        return reject(new InferenceError("invalid_argument", `${what}: timeoutMs must be >= 0, got ${timeoutMs}`));
      const metadata = new grpc.Metadata();
      if (call.headers) for (const k of Object.keys(call.headers)) metadata.set(k, call.headers[k]!);
      const options: grpc.CallOptions =
        timeoutMs !== undefined && Number.isFinite(timeoutMs) ? { deadline: Date.now() + timeoutMs } : {};
      let onAbort: (() => void) | undefined;
      let pending: grpc.ClientUnaryCall;
      try {
        pending = this.#client[method]!.call(this.#client, request, metadata, options, (error, response) => {
          if (onAbort) signal!.removeEventListener("abort", onAbort);
          if (!error) return resolve(response as T);
          if (signal?.aborted && error.code === grpc.status.CANCELLED) return reject(cancelledError(what, signal.reason));
          if (error.code === grpc.status.DEADLINE_EXCEEDED && timeoutMs !== undefined) return reject(deadlineError(what, timeoutMs));
          reject(InferenceError.from(error));
        });
      } catch (e) {
        // grpc-js throws synchronously on a closed channel or an unserializable message.
        const err = InferenceError.from(e);
        return reject(err.code === "unknown" ? new InferenceError("invalid_argument", `${what}: ${err.message}`, { cause: e }) : err);
      }
      if (signal) {
        onAbort = () => pending.cancel();
        signal.addEventListener("abort", onAbort, { once: true });
      }
    });
  }

  async serverLive(call: CallOptions): Promise<boolean> {
    const r = await this.#unary<{ live?: boolean }>("ServerLive", {}, call, "isServerLive");
    return r.live ?? false;
  }

  async serverReady(call: CallOptions): Promise<boolean> {
    const r = await this.#unary<{ ready?: boolean }>("ServerReady", {}, call, "isServerReady");
    return r.ready ?? false;
  }

  async modelReady(ref: ModelRef, call: CallOptions): Promise<boolean> {
    try {
      const r = await this.#unary<{ ready?: boolean }>(
        "ModelReady",
        { name: ref.model, version: ref.version ?? "" },
        call,
        `isModelReady(${ref.model})`,
      );
      return r.ready ?? false;
    } catch (e) {
      // An unknown model is simply not ready (HTTP answers such a query with 4xx, read as false too).
      if (e instanceof InferenceError && (e.code === "not_found" || e.code === "invalid_argument")) return false;
      throw e;
    }
  }

  async serverMetadata(call: CallOptions): Promise<ServerMetadata> {
    const r = await this.#unary<{ name?: string; version?: string; extensions?: string[] }>(
      "ServerMetadata",
      {},
      call,
      "serverMetadata",
    );
    return { name: r.name ?? "", version: r.version ?? "", extensions: r.extensions ?? [] };
  }

  async modelMetadata(ref: ModelRef, call: CallOptions): Promise<ModelMetadata> {
    const r = await this.#unary<Record<string, unknown>>(
      "ModelMetadata",
      { name: ref.model, version: ref.version ?? "" },
      call,
      `modelMetadata(${ref.model})`,
    );
    return {
      name: (r.name as string | undefined) ?? "",
      versions: (r.versions as string[] | undefined) ?? [],
      platform: (r.platform as string | undefined) ?? "",
      inputs: tensorMetadata(r.inputs),
      outputs: tensorMetadata(r.outputs),
    };
  }

  async modelConfig(ref: ModelRef, call: CallOptions): Promise<Record<string, unknown>> {
    const r = await this.#unary<{ config?: Record<string, unknown> }>(
      "ModelConfig",
      { name: ref.model, version: ref.version ?? "" },
      call,
      `modelConfig(${ref.model})`,
    );
    return r.config ?? {};
  }

  async modelStatistics(req: StatisticsRequest, call: CallOptions): Promise<ModelStatistics[]> {
    const r = await this.#unary<{ model_stats?: unknown[] }>(
      "ModelStatistics",
      { name: req.model ?? "", version: req.version ?? "" },
      call,
      `modelStatistics(${req.model ?? ""})`,
    );
    return toModelStatistics(r.model_stats ?? []);
  }

  async loadModel(req: LoadRequest, call: CallOptions): Promise<void> {
    const parameters = req.config === undefined ? {} : { config: { string_param: req.config } };
    await this.#unary("RepositoryModelLoad", { model_name: req.model, parameters }, call, `loadModel(${req.model})`);
  }

  async unloadModel(ref: ModelRef, call: CallOptions): Promise<void> {
    await this.#unary("RepositoryModelUnload", { model_name: ref.model }, call, `unloadModel(${ref.model})`);
  }

  async infer(req: InferRequest, call: CallOptions): Promise<InferResponse> {
    const r = await this.#unary<WireInferResponse>("ModelInfer", encodeInferRequest(req), call, `infer(${req.model})`);
    return decodeInferResponse(r);
  }

  async close(): Promise<void> {
    this.#client.close();
  }
}

export function createGrpcTransport(options: GrpcTransportOptions): Transport {
  return new GrpcTransport(options);
}
