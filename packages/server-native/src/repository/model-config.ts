// Typed ModelConfig (protobuf JSON field names, as Triton's GET .../config returns it), built from
// config.pbtxt or a JSON load override: decoding, defaults, and the checks that do not depend on the
// backend. Anything iaas cannot honour is rejected here rather than silently ignored.
import { fromConfigDataType, type DataType } from "@iaas/client/protocol";
import { MODEL_CONFIG_SCHEMA } from "./config-schema.ts";
import { configError, decodeJsonConfig, decodePbtxtConfig, type Decoded, type Locator } from "./config-decode.ts";
import { parsePbtxt, PbtxtError } from "./pbtxt.ts";
import { sequenceBatchingConfig, type SequenceBatchingConfig } from "./sequence-config.ts";
import { dynamicBatchingConfig } from "./dynamic-batching-config.ts";
import { ServerError } from "../core/errors.ts";

export type InstanceKind = "KIND_AUTO" | "KIND_GPU" | "KIND_CPU" | "KIND_MODEL";

export interface ModelInputConfig {
  name: string;
  data_type: string;
  format: string;
  dims: number[];
  is_shape_tensor: boolean;
  allow_ragged_batch: boolean;
  optional: boolean;
}

export interface ModelOutputConfig {
  name: string;
  data_type: string;
  dims: number[];
  label_filename: string;
  is_shape_tensor: boolean;
}

export interface InstanceGroupConfig {
  name: string;
  kind: InstanceKind;
  count: number;
  gpus: number[];
  /** Triton's host policy name (server flag --host-policy NAME,cpu-cores=LIST): binds the group's threads. */
  host_policy: string;
}

export interface VersionPolicy {
  latest?: { num_versions: number };
  all?: Record<string, never>;
  specific?: { versions: number[] };
}

export interface QueuePolicyConfig {
  timeout_action?: "REJECT" | "DELAY";
  default_timeout_microseconds?: number;
  allow_timeout_override?: boolean;
  max_queue_size?: number;
}

/** Triton's ModelDynamicBatching (see scheduler/dynamic-batch-scheduler.ts); checked in dynamic-batching-config.ts. */
export interface DynamicBatchingConfig {
  preferred_batch_size?: number[];
  max_queue_delay_microseconds?: number;
  preserve_ordering?: boolean;
  priority_levels?: number;
  default_priority_level?: number;
  default_queue_policy?: QueuePolicyConfig;
  priority_queue_policy?: Record<string, QueuePolicyConfig>;
}

export interface ModelConfig {
  name: string;
  platform: string;
  backend: string;
  runtime: string;
  version_policy: VersionPolicy;
  max_batch_size: number;
  input: ModelInputConfig[];
  output: ModelOutputConfig[];
  instance_group: InstanceGroupConfig[];
  default_model_filename: string;
  dynamic_batching?: DynamicBatchingConfig;
  sequence_batching?: SequenceBatchingConfig;
  parameters: Record<string, { string_value: string }>;
  model_transaction_policy: { decoupled: boolean };
  response_cache: { enable: boolean };
}

/** A config together with where its fields came from, for error messages. */
export interface LocatedConfig {
  config: ModelConfig;
  locator: Locator;
}

/** Parses and normalises config.pbtxt text. `modelName` is the repository folder name. */
export function configFromPbtxt(text: string, file: string, modelName: string): LocatedConfig {
  let tree;
  try {
    tree = parsePbtxt(text, file);
  } catch (err) {
    if (err instanceof PbtxtError) throw new ServerError("INVALID_ARG", `syntax error in ${err.message}`, { cause: err });
    throw err;
  }
  const { value, locator } = decodePbtxtConfig(tree, MODEL_CONFIG_SCHEMA, file);
  return { config: normaliseConfig(value, locator, modelName), locator };
}

/** Parses and normalises a JSON config (repository load override); errors name `source` and the JSON path. */
export function configFromJson(text: string, source: string, modelName: string): LocatedConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ServerError("INVALID_ARG", `${source} is not valid JSON: ${(err as Error).message}`);
  }
  const { value, locator } = decodeJsonConfig(json, MODEL_CONFIG_SCHEMA, source);
  return { config: normaliseConfig(value, locator, modelName), locator };
}

/** The KServe datatype of a config data_type (TYPE_STRING -> BYTES). */
export function tensorDataType(configType: string): DataType {
  const d = fromConfigDataType(configType);
  if (d === undefined) throw new Error(`not a tensor data type: ${configType}`);
  return d;
}

/** Full tensor shape as clients see it: batch dimension -1 first when the model batches. */
export function fullShape(config: ModelConfig, dims: readonly number[]): number[] {
  return config.max_batch_size > 0 ? [-1, ...dims] : [...dims];
}

const str = (v: unknown, d = ""): string => (typeof v === "string" ? v : d);
const num = (v: unknown, d = 0): number => (typeof v === "number" ? v : d);
const bool = (v: unknown): boolean => v === true;
const list = (v: unknown): Decoded[] => (Array.isArray(v) ? (v as Decoded[]) : []);

function normaliseConfig(raw: Decoded, at: Locator, modelName: string): ModelConfig {
  const fail = (path: string, message: string): never => {
    throw configError(at.at(path), message);
  };
  const name = str(raw.name, modelName);
  if (name !== modelName) fail("name", `model name '${name}' does not match its repository folder '${modelName}'`);
  const backend = str(raw.backend);
  if (backend === "") fail("backend", `model '${name}' sets no backend; iaas needs 'backend' (simple, identity or dense_mlp)`);
  const maxBatch = num(raw.max_batch_size);
  if (maxBatch < 0) fail("max_batch_size", `max_batch_size must be >= 0, got ${maxBatch}`);

  const tensorNames = new Set<string>();
  const tensor = (t: Decoded, path: string, what: string): { name: string; data_type: string; dims: number[] } => {
    const tname = str(t.name);
    if (tname === "") fail(path, `${what} has no name`);
    if (tensorNames.has(tname)) fail(`${path}.name`, `tensor name '${tname}' is used more than once`);
    tensorNames.add(tname);
    const dataType = str(t.data_type, "TYPE_INVALID");
    if (fromConfigDataType(dataType) === undefined) fail(`${path}.data_type`, `${what} '${tname}' needs a data_type (TYPE_FP32, ...)`);
    if (t.reshape !== undefined) fail(`${path}.reshape`, `${what} '${tname}': reshape is not supported by iaas`);
    if (bool(t.is_shape_tensor)) fail(`${path}.is_shape_tensor`, `${what} '${tname}': shape tensors are not supported by iaas`);
    const dims = (t.dims as number[] | undefined) ?? [];
    if (dims.length === 0) fail(path, `${what} '${tname}' needs dims (use [1] for a scalar per batch element)`);
    dims.forEach((d, i) => {
      if (d !== -1 && d < 1) fail(`${path}.dims[${i}]`, `${what} '${tname}' dimension ${i} is ${d}; dims must be >= 1 or -1 (variable)`);
    });
    return { name: tname, data_type: dataType, dims };
  };

  const input = list(raw.input).map((t, i): ModelInputConfig => {
    const path = `input[${i}]`;
    const base = tensor(t, path, "input");
    if (bool(t.allow_ragged_batch)) fail(`${path}.allow_ragged_batch`, `input '${base.name}': ragged batching is not supported by iaas`);
    if (bool(t.optional)) fail(`${path}.optional`, `input '${base.name}': optional inputs are not supported by iaas`);
    return { ...base, format: str(t.format, "FORMAT_NONE"), is_shape_tensor: false, allow_ragged_batch: false, optional: false };
  });
  if (input.length === 0) fail("input", `model '${name}' declares no inputs`);
  const output = list(raw.output).map((t, i): ModelOutputConfig => {
    const path = `output[${i}]`;
    const base = tensor(t, path, "output");
    // The label file itself is read (and confined to the model directory) when the model loads.
    return { ...base, label_filename: str(t.label_filename), is_shape_tensor: false };
  });
  if (output.length === 0) fail("output", `model '${name}' declares no outputs`);

  const groups = list(raw.instance_group);
  const instance_group = (groups.length > 0 ? groups : [{}]).map((g, i): InstanceGroupConfig => {
    const path = `instance_group[${i}]`;
    const kind = str(g.kind, "KIND_AUTO") as InstanceKind;

    const count = g.count === undefined ? 1 : num(g.count);
    if (count < 1) fail(`${path}.count`, `instance_group count must be >= 1, got ${count}`);
    const gpus = (g.gpus as number[] | undefined) ?? [];
    if ((kind === "KIND_CPU" || kind === "KIND_MODEL") && gpus.length > 0) fail(`${path}.gpus`, `gpus cannot be listed for a ${kind} instance group`);
    gpus.forEach((id, j) => id < 0 && fail(`${path}.gpus[${j}]`, `GPU id must be >= 0, got ${id}`));
    if (list(g.profile).length > 0) fail(`${path}.profile`, "instance_group profile (TensorRT optimization profiles) is not supported by iaas; leave it empty");
    if (bool(g.passive)) fail(`${path}.passive`, "passive instances are not supported by iaas (every instance is scheduled); set passive: false");
    return { name: str(g.name) || `${name}_${i}`, kind, count, gpus, host_policy: str(g.host_policy) };
  });

  const policy = (raw.version_policy as Decoded | undefined) ?? { latest: { num_versions: 1 } };
  const version_policy: VersionPolicy = {};
  if (policy.all !== undefined) version_policy.all = {};
  else if (policy.specific !== undefined) {
    const versions = ((policy.specific as Decoded).versions as number[] | undefined) ?? [];
    if (versions.length === 0) fail("version_policy.specific", "a specific version policy must list at least one version");
    version_policy.specific = { versions };
  } else {
    const n = num((policy.latest as Decoded | undefined)?.num_versions, 1);
    if (n < 1) fail("version_policy.latest.num_versions", `num_versions must be >= 1, got ${n}`);
    version_policy.latest = { num_versions: n };
  }

  const decoupled = bool((raw.model_transaction_policy as Decoded | undefined)?.decoupled);
  const cache = bool((raw.response_cache as Decoded | undefined)?.enable);
  if (cache) fail("response_cache.enable", "the response cache is not supported by iaas");

  const parameters: Record<string, { string_value: string }> = {};
  for (const [k, v] of Object.entries((raw.parameters as Record<string, Decoded> | undefined) ?? {}))
    parameters[k] = { string_value: str(v.string_value) };

  const config: ModelConfig = {
    name,
    platform: str(raw.platform),
    backend,
    runtime: str(raw.runtime),
    version_policy,
    max_batch_size: maxBatch,
    input,
    output,
    instance_group,
    default_model_filename: str(raw.default_model_filename),
    parameters,
    model_transaction_policy: { decoupled },
    response_cache: { enable: false },
  };
  if (raw.dynamic_batching !== undefined) config.dynamic_batching = dynamicBatchingConfig(raw.dynamic_batching as Decoded, at, maxBatch);
  if (raw.sequence_batching !== undefined)
    config.sequence_batching = sequenceBatchingConfig(raw.sequence_batching as Decoded, at, new Set(input.map((t) => t.name)));
  return config;
}
