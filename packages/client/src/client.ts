// createClient: the protocol-independent InferenceClient (api.ts) over an HTTP or gRPC transport.
import type {
  CallOptions,
  ClientOptions,
  InferOptions,
  InferResult,
  InferenceClient,
  LoadModelOptions,
  ModelCallOptions,
  ModelMetadata,
  ModelStatistics,
  Protocol,
  ServerMetadata,
} from "./api.ts";
import { InferenceError } from "./errors.ts";
import { InferResultImpl } from "./infer-result.ts";
import { Tensor } from "./tensor.ts";
import { createGrpcTransport } from "./transport/grpc/transport.ts";
import { createHttpTransport } from "./transport/http/transport.ts";
import type { OutputRequest, Transport } from "./transport/transport.ts";

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/** Protocol named by the URL scheme: http/https -> http, grpc/grpcs -> grpc, none or other -> http. */
export function protocolOf(url: string): Protocol {
  const scheme = SCHEME.exec(url)?.[1]?.toLowerCase();
  return scheme === "grpc" || scheme === "grpcs" ? "grpc" : "http";
}

function httpUrl(url: string): string {
  return SCHEME.test(url) ? url : `http://${url}`;
}

class Client implements InferenceClient {
  readonly protocol: Protocol;
  readonly url: string;
  readonly #transport: Transport;
  readonly #timeoutMs: number | undefined;
  readonly #headers: Record<string, string> | undefined;
  readonly #binaryInputs: boolean;
  readonly #binaryOutputs: boolean;
  #closed = false;

  constructor(options: ClientOptions, transport: Transport) {
    this.#transport = transport;
    this.protocol = transport.protocol;
    this.url = transport.url;
    this.#timeoutMs = options.timeoutMs;
    this.#headers = options.headers && Object.keys(options.headers).length > 0 ? options.headers : undefined;
    this.#binaryInputs = options.binaryInputs ?? true;
    this.#binaryOutputs = options.binaryOutputs ?? true;
  }

  #call(what: string, options: CallOptions | undefined): CallOptions {
    if (this.#closed) throw new InferenceError("failed_precondition", `${what}: the client is closed`);
    const headers =
      this.#headers && options?.headers ? { ...this.#headers, ...options.headers } : (options?.headers ?? this.#headers);
    return { signal: options?.signal, timeoutMs: options?.timeoutMs ?? this.#timeoutMs, headers };
  }

  #model(what: string, model: unknown): string {
    if (typeof model !== "string" || model === "")
      throw new InferenceError("invalid_argument", `${what}: model name must be a non-empty string, got ${JSON.stringify(model)}`);
    return model;
  }

  // Every method is async so that argument errors reject the promise instead of throwing synchronously.
  async isServerLive(options?: CallOptions): Promise<boolean> {
    return this.#transport.serverLive(this.#call("isServerLive", options));
  }

  async isServerReady(options?: CallOptions): Promise<boolean> {
    return this.#transport.serverReady(this.#call("isServerReady", options));
  }

  async isModelReady(model: string, options?: ModelCallOptions): Promise<boolean> {
    const call = this.#call("isModelReady", options);
    return this.#transport.modelReady({ model: this.#model("isModelReady", model), version: options?.version }, call);
  }

  async serverMetadata(options?: CallOptions): Promise<ServerMetadata> {
    return this.#transport.serverMetadata(this.#call("serverMetadata", options));
  }

  async modelMetadata(model: string, options?: ModelCallOptions): Promise<ModelMetadata> {
    const call = this.#call("modelMetadata", options);
    return this.#transport.modelMetadata({ model: this.#model("modelMetadata", model), version: options?.version }, call);
  }

  async modelConfig(model: string, options?: ModelCallOptions): Promise<Record<string, unknown>> {
    const call = this.#call("modelConfig", options);
    return this.#transport.modelConfig({ model: this.#model("modelConfig", model), version: options?.version }, call);
  }

  async modelStatistics(model?: string, options?: ModelCallOptions): Promise<ModelStatistics[]> {
    const call = this.#call("modelStatistics", options);
    if (model !== undefined && typeof model !== "string")
      throw new InferenceError("invalid_argument", `modelStatistics: model name must be a string, got ${JSON.stringify(model)}`);
    return this.#transport.modelStatistics({ model: model || undefined, version: options?.version }, call);
  }

  async loadModel(model: string, options?: LoadModelOptions): Promise<void> {
    const call = this.#call("loadModel", options);
    const config = options?.config;
    const text = config === undefined || typeof config === "string" ? config : JSON.stringify(config);
    return this.#transport.loadModel({ model: this.#model("loadModel", model), config: text }, call);
  }

  async unloadModel(model: string, options?: CallOptions): Promise<void> {
    const call = this.#call("unloadModel", options);
    return this.#transport.unloadModel({ model: this.#model("unloadModel", model) }, call);
  }

  async infer(model: string, inputs: Tensor[], options?: InferOptions): Promise<InferResult> {
    const call = this.#call("infer", options);
    this.#model("infer", model);
    if (!Array.isArray(inputs)) throw new InferenceError("invalid_argument", "infer: inputs must be an array of Tensor");
    for (let i = 0; i < inputs.length; i++)
      if (!(inputs[i] instanceof Tensor))
        throw new InferenceError("invalid_argument", `infer: inputs[${i}] is not a Tensor (build it with new Tensor(...))`);
    const binaryOutputs = options?.binaryOutputs ?? this.#binaryOutputs;
    let outputs: OutputRequest[] | undefined;
    if (options?.outputs) {
      outputs = options.outputs.map((o) =>
        typeof o === "string"
          ? { name: o, binary: binaryOutputs }
          : { name: o.name, binary: o.binary ?? binaryOutputs, parameters: o.parameters },
      );
    }
    const response = await this.#transport.infer(
      {
        model,
        version: options?.version,
        id: options?.id,
        inputs,
        outputs,
        parameters: options?.parameters,
        binaryInputs: options?.binaryInputs ?? this.#binaryInputs,
        binaryOutputs,
      },
      call,
    );
    return new InferResultImpl(response);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#transport.close();
  }
}

/**
 * Creates a client. The protocol is `options.protocol`, else the URL scheme's (http/https -> "http",
 * grpc/grpcs -> "grpc"), else "http".
 */
export function createClient(options: ClientOptions): InferenceClient {
  if (options === null || typeof options !== "object" || typeof options.url !== "string" || options.url === "")
    throw new InferenceError("invalid_argument", "createClient: options.url must be a non-empty string");
  const protocol = options.protocol ?? protocolOf(options.url);
  let transport: Transport;
  if (protocol === "grpc") transport = createGrpcTransport({ url: options.url });
  else if (protocol === "http") transport = createHttpTransport({ url: httpUrl(options.url), connections: options.connections });
  else throw new InferenceError("invalid_argument", `createClient: unknown protocol ${JSON.stringify(protocol)}`);
  return new Client(options, transport);
}
