// The subset of Triton's ModelConfig message that iaas reads, as a schema driving both decoders
// (config.pbtxt text format and JSON load overrides). Field names and enum names follow model_config.proto.

export type ScalarType = "string" | "int32" | "uint32" | "int64" | "uint64" | "bool" | "float";

export type FieldType =
  | { kind: "scalar"; type: ScalarType }
  | { kind: "enum"; name: string; values: readonly string[] }
  | { kind: "message"; schema: MessageSchema }
  | { kind: "map"; key: "string" | "uint64"; value: FieldType };

export interface FieldSpec {
  type: FieldType;
  repeated?: boolean;
  /** Name of the oneof this field belongs to: at most one member may be set. */
  oneof?: string;
}

export interface MessageSchema {
  name: string;
  fields: Readonly<Record<string, FieldSpec>>;
}

const scalar = (type: ScalarType): FieldType => ({ kind: "scalar", type });
const message = (schema: MessageSchema): FieldType => ({ kind: "message", schema });

export const DATA_TYPE_ENUM: FieldType = {
  kind: "enum",
  name: "DataType",
  values: [
    "TYPE_INVALID", "TYPE_BOOL", "TYPE_UINT8", "TYPE_UINT16", "TYPE_UINT32", "TYPE_UINT64", "TYPE_INT8", "TYPE_INT16",
    "TYPE_INT32", "TYPE_INT64", "TYPE_FP16", "TYPE_FP32", "TYPE_FP64", "TYPE_STRING", "TYPE_BF16",
  ],
};

const RESHAPE: MessageSchema = { name: "ModelTensorReshape", fields: { shape: { type: scalar("int64"), repeated: true } } };

const MODEL_INPUT: MessageSchema = {
  name: "ModelInput",
  fields: {
    name: { type: scalar("string") },
    data_type: { type: DATA_TYPE_ENUM },
    format: { type: { kind: "enum", name: "Format", values: ["FORMAT_NONE", "FORMAT_NHWC", "FORMAT_NCHW"] } },
    dims: { type: scalar("int64"), repeated: true },
    reshape: { type: message(RESHAPE) },
    is_shape_tensor: { type: scalar("bool") },
    allow_ragged_batch: { type: scalar("bool") },
    optional: { type: scalar("bool") },
  },
};

const MODEL_OUTPUT: MessageSchema = {
  name: "ModelOutput",
  fields: {
    name: { type: scalar("string") },
    data_type: { type: DATA_TYPE_ENUM },
    dims: { type: scalar("int64"), repeated: true },
    label_filename: { type: scalar("string") },
    reshape: { type: message(RESHAPE) },
    is_shape_tensor: { type: scalar("bool") },
  },
};

const INSTANCE_GROUP: MessageSchema = {
  name: "ModelInstanceGroup",
  fields: {
    name: { type: scalar("string") },
    count: { type: scalar("int32") },
    gpus: { type: scalar("int32"), repeated: true },
    kind: { type: { kind: "enum", name: "Kind", values: ["KIND_AUTO", "KIND_GPU", "KIND_CPU", "KIND_MODEL"] } },
    // Read so that configs read back from a server (proto3 defaults filled in) load again; only their
    // defaults are accepted (model-config.ts).
    profile: { type: scalar("string"), repeated: true },
    passive: { type: scalar("bool") },
    host_policy: { type: scalar("string") },
  },
};

const VERSION_POLICY: MessageSchema = {
  name: "ModelVersionPolicy",
  fields: {
    latest: { type: message({ name: "Latest", fields: { num_versions: { type: scalar("uint32") } } }), oneof: "policy_choice" },
    all: { type: message({ name: "All", fields: {} }), oneof: "policy_choice" },
    specific: {
      type: message({ name: "Specific", fields: { versions: { type: scalar("int64"), repeated: true } } }),
      oneof: "policy_choice",
    },
  },
};

const QUEUE_POLICY: MessageSchema = {
  name: "ModelQueuePolicy",
  fields: {
    timeout_action: { type: { kind: "enum", name: "TimeoutAction", values: ["REJECT", "DELAY"] } },
    default_timeout_microseconds: { type: scalar("uint64") },
    allow_timeout_override: { type: scalar("bool") },
    max_queue_size: { type: scalar("uint32") },
  },
};

const DYNAMIC_BATCHING: MessageSchema = {
  name: "ModelDynamicBatching",
  fields: {
    preferred_batch_size: { type: scalar("int32"), repeated: true },
    max_queue_delay_microseconds: { type: scalar("uint64") },
    preserve_ordering: { type: scalar("bool") },
    priority_levels: { type: scalar("uint64") },
    default_priority_level: { type: scalar("uint64") },
    default_queue_policy: { type: message(QUEUE_POLICY) },
    priority_queue_policy: { type: { kind: "map", key: "uint64", value: message(QUEUE_POLICY) } },
  },
};

const SEQUENCE_CONTROL: MessageSchema = {
  name: "Control",
  fields: {
    kind: {
      type: {
        kind: "enum",
        name: "Kind",
        values: ["CONTROL_SEQUENCE_START", "CONTROL_SEQUENCE_READY", "CONTROL_SEQUENCE_END", "CONTROL_SEQUENCE_CORRID"],
      },
    },
    int32_false_true: { type: scalar("int32"), repeated: true },
    fp32_false_true: { type: scalar("float"), repeated: true },
    bool_false_true: { type: scalar("bool"), repeated: true },
    data_type: { type: DATA_TYPE_ENUM },
  },
};

const SEQUENCE_BATCHING: MessageSchema = {
  name: "ModelSequenceBatching",
  fields: {
    max_sequence_idle_microseconds: { type: scalar("uint64") },
    control_input: {
      type: message({ name: "ControlInput", fields: { name: { type: scalar("string") }, control: { type: message(SEQUENCE_CONTROL), repeated: true } } }),
      repeated: true,
    },
    direct: {
      type: message({
        name: "StrategyDirect",
        fields: { max_queue_delay_microseconds: { type: scalar("uint64") }, minimum_slot_utilization: { type: scalar("float") } },
      }),
      oneof: "strategy_choice",
    },
    oldest: {
      type: message({
        name: "StrategyOldest",
        fields: {
          max_candidate_sequences: { type: scalar("int32") },
          preferred_batch_size: { type: scalar("int32"), repeated: true },
          max_queue_delay_microseconds: { type: scalar("uint64") },
          preserve_ordering: { type: scalar("bool") },
        },
      }),
      oneof: "strategy_choice",
    },
  },
};

export const MODEL_CONFIG_SCHEMA: MessageSchema = {
  name: "ModelConfig",
  fields: {
    name: { type: scalar("string") },
    platform: { type: scalar("string") },
    backend: { type: scalar("string") },
    runtime: { type: scalar("string") },
    version_policy: { type: message(VERSION_POLICY) },
    max_batch_size: { type: scalar("int32") },
    input: { type: message(MODEL_INPUT), repeated: true },
    output: { type: message(MODEL_OUTPUT), repeated: true },
    instance_group: { type: message(INSTANCE_GROUP), repeated: true },
    default_model_filename: { type: scalar("string") },
    dynamic_batching: { type: message(DYNAMIC_BATCHING), oneof: "scheduling_choice" },
    sequence_batching: { type: message(SEQUENCE_BATCHING), oneof: "scheduling_choice" },
    parameters: {
      type: { kind: "map", key: "string", value: message({ name: "ModelParameter", fields: { string_value: { type: scalar("string") } } }) },
    },
    model_transaction_policy: { type: message({ name: "ModelTransactionPolicy", fields: { decoupled: { type: scalar("bool") } } }) },
    response_cache: { type: message({ name: "ModelResponseCache", fields: { enable: { type: scalar("bool") } } }) },
  },
};
