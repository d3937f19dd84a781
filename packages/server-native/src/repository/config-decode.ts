// Decodes a ModelConfig from either source (config.pbtxt syntax tree or JSON load override) into one
// plain object shape, checking field names and value types against the schema. Each decoder returns
// a Locator so later validation can say where a field came from (FILE:LINE or the JSON path).
import { ServerError } from "../core/errors.ts";
import type { FieldSpec, FieldType, MessageSchema, ScalarType } from "./config-schema.ts";
import type { PbMessage, PbScalar, PbValue } from "./pbtxt.ts";

/** Says where a config field (by path, e.g. `input[0].dims`) was written. */
export interface Locator {
  at(path: string): string;
}

export type Decoded = { [field: string]: unknown };

export function configError(where: string, message: string): ServerError {
  return new ServerError("INVALID_ARG", `${where}: ${message}`);
}

const INT_RANGE: Record<Exclude<ScalarType, "string" | "bool" | "float">, [number, number]> = {
  int32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
};

function join(path: string, field: string): string {
  return path === "" ? field : `${path}.${field}`;
}

function describeType(type: FieldType): string {
  switch (type.kind) {
    case "scalar":
      if (type.type === "float") return "a number";
      return type.type === "string" ? "a string" : type.type === "bool" ? "true or false" : `an integer (${type.type})`;
    case "enum":
      return `one of ${type.values.join(", ")}`;
    case "message":
      return `a ${type.schema.name} message`;
    case "map":
      return "map entries";
  }
}

function checkInteger(value: number, type: ScalarType, fail: (msg: string) => never): number {
  const range = INT_RANGE[type as keyof typeof INT_RANGE];
  if (!Number.isInteger(value)) fail(`expects an integer (${type}), got ${value}`);
  if (value < range[0] || value > range[1]) fail(`value ${value} is out of range for ${type}`);
  return value;
}

function checkOneofs(schema: MessageSchema, present: Set<string>, fail: (field: string, msg: string) => never): void {
  const seen = new Map<string, string>();
  for (const field of present) {
    const group = schema.fields[field]?.oneof;
    if (group === undefined) continue;
    const other = seen.get(group);
    if (other !== undefined) fail(field, `'${field}' and '${other}' are alternatives (${group}); set only one`);
    seen.set(group, field);
  }
}

// ---------------------------------------------------------------------------------------------------
// config.pbtxt

class PbtxtDecoder implements Locator {
  private readonly file: string;
  private readonly lines = new Map<string, number>();

  constructor(file: string) {
    this.file = file;
  }

  at(path: string): string {
    for (let p = path; ; ) {
      const line = this.lines.get(p);
      if (line !== undefined) return `${this.file}:${line}`;
      const cut = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
      if (cut <= 0) return this.file;
      p = p.slice(0, cut);
    }
  }

  private fail(line: number, message: string): never {
    throw configError(`${this.file}:${line}`, message);
  }

  message(msg: PbMessage, schema: MessageSchema, path: string): Decoded {
    const out: Decoded = {};
    for (const field of msg.fields) {
      const spec = schema.fields[field.name];
      if (spec === undefined)
        this.fail(field.line, `unknown field '${field.name}' in ${schema.name}${path ? ` (${path})` : ""}`);
      const fpath = join(path, field.name);
      if (!this.lines.has(fpath)) this.lines.set(fpath, field.line);
      if (spec.type.kind === "map") {
        const map = (out[field.name] ??= {}) as Decoded;
        const entries = field.value.kind === "list" ? field.value.items : [field.value];
        for (const entry of entries) this.mapEntry(entry, spec.type, map, fpath, field.name);
      } else if (spec.repeated) {
        const arr = (out[field.name] ??= []) as unknown[];
        const items = field.value.kind === "list" ? field.value.items : [field.value];
        for (const item of items) {
          const ipath = `${fpath}[${arr.length}]`;
          this.lines.set(ipath, item.line);
          arr.push(this.value(item, spec, ipath, field.name));
        }
      } else {
        if (field.name in out) this.fail(field.line, `field '${field.name}' is set more than once in ${schema.name}`);
        if (field.value.kind === "list") this.fail(field.line, `field '${field.name}' is not repeated; a list is not allowed`);
        out[field.name] = this.value(field.value, spec, fpath, field.name);
      }
    }
    checkOneofs(schema, new Set(Object.keys(out)), (f, m) => this.fail(this.lines.get(join(path, f)) ?? msg.line, m));
    return out;
  }

  private mapEntry(entry: PbValue, type: Extract<FieldType, { kind: "map" }>, map: Decoded, path: string, name: string): void {
    if (entry.kind !== "message") this.fail(entry.line, `field '${name}' expects map entries { key: ... value: ... }`);
    let key: string | undefined;
    let value: PbValue | undefined;
    for (const f of entry.fields) {
      if (f.name === "key" && key === undefined && f.value.kind !== "message" && f.value.kind !== "list") {
        key = type.key === "string" ? String(this.scalar(f.value, "string", `${name}.key`)) : String(this.scalar(f.value, "uint64", `${name}.key`));
      } else if (f.name === "value" && value === undefined) {
        value = f.value;
      } else {
        this.fail(f.line, `unexpected '${f.name}' in a '${name}' map entry; expected one 'key' and one 'value'`);
      }
    }
    if (key === undefined) this.fail(entry.line, `'${name}' map entry has no key`);
    if (value === undefined) this.fail(entry.line, `'${name}' map entry '${key}' has no value`);
    const epath = `${path}[${JSON.stringify(key)}]`;
    this.lines.set(epath, entry.line);
    map[key] = this.value(value, { type: type.value }, epath, `${name}[${JSON.stringify(key)}]`);
  }

  private value(v: PbValue, spec: FieldSpec, path: string, name: string): unknown {
    const type = spec.type;
    if (type.kind === "message") {
      if (v.kind !== "message") this.fail(v.line, `field '${name}' expects a ${type.schema.name} message { ... }`);
      return this.message(v, type.schema, path);
    }
    if (v.kind === "message" || v.kind === "list") this.fail(v.line, `field '${name}' expects ${describeType(type)}, got a ${v.kind}`);
    if (type.kind === "enum") {
      if (v.kind === "identifier" && type.values.includes(v.text)) return v.text;
      if (v.kind === "number" && Number.isInteger(v.value) && type.values[v.value] !== undefined) return type.values[v.value];
      this.fail(v.line, `field '${name}' has invalid ${type.name} value ${scalarText(v)}; expected one of ${type.values.join(", ")}`);
    }
    if (type.kind === "map") throw new Error("unreachable: maps are decoded by mapEntry");
    return this.scalar(v, type.type, name);
  }

  private scalar(v: PbScalar, type: ScalarType, name: string): string | number | boolean {
    const fail = (msg: string): never => this.fail(v.line, `field '${name}' ${msg}`);
    if (type === "string") {
      if (v.kind !== "string") fail(`expects a quoted string, got ${scalarText(v)}`);
      return (v as Extract<PbScalar, { kind: "string" }>).value;
    }
    if (type === "bool") {
      if (v.kind === "identifier" && /^(true|True|t)$/.test(v.text)) return true;
      if (v.kind === "identifier" && /^(false|False|f)$/.test(v.text)) return false;
      if (v.kind === "number" && (v.value === 0 || v.value === 1)) return v.value === 1;
      fail(`expects true or false, got ${scalarText(v)}`);
    }
    if (type === "float") {
      if (v.kind !== "number") fail(`expects a number, got ${scalarText(v)}`);
      return (v as Extract<PbScalar, { kind: "number" }>).value;
    }
    if (v.kind !== "number") fail(`expects an integer (${type}), got ${scalarText(v)}`);
    return checkInteger((v as Extract<PbScalar, { kind: "number" }>).value, type, fail);
  }
}

function scalarText(v: PbScalar): string {
  return v.kind === "string" ? JSON.stringify(v.value) : v.text;
}

/** Decodes a parsed config.pbtxt; errors name `file:line`. */
export function decodePbtxtConfig(tree: PbMessage, schema: MessageSchema, file: string): { value: Decoded; locator: Locator } {
  const decoder = new PbtxtDecoder(file);
  return { value: decoder.message(tree, schema, ""), locator: decoder };
}

// ---------------------------------------------------------------------------------------------------
// JSON (protobuf JSON mapping: original field names, or lowerCamelCase; int64 as numbers or strings)

const snakeCase = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

class JsonDecoder implements Locator {
  private readonly source: string;

  constructor(source: string) {
    this.source = source;
  }

  at(path: string): string {
    return `${this.source} at ${path === "" ? "(root)" : path}`;
  }

  private fail(path: string, message: string): never {
    throw configError(this.at(path), message);
  }

  message(obj: unknown, schema: MessageSchema, path: string): Decoded {
    if (typeof obj !== "object" || obj === null || Array.isArray(obj))
      this.fail(path, `expected a ${schema.name} object, got ${jsonKind(obj)}`);
    const out: Decoded = {};
    for (const [rawName, raw] of Object.entries(obj)) {
      const name = rawName in schema.fields ? rawName : snakeCase(rawName);
      const spec = schema.fields[name];
      const fpath = join(path, rawName);
      if (spec === undefined) {
        // protobuf JSON readers with `oneofs: true` (grpc-js clients) add a field naming each oneof's set member.
        if (isOneofMarker(schema, name, raw)) continue;
        this.fail(fpath, `unknown field '${rawName}' in ${schema.name}`);
      }
      if (name in out) this.fail(fpath, `field '${name}' is given twice (as '${rawName}' and in another spelling)`);
      if (raw === null) continue;
      if (spec.type.kind === "map") {
        if (typeof raw !== "object" || Array.isArray(raw)) this.fail(fpath, `expected an object of map entries, got ${jsonKind(raw)}`);
        const map: Decoded = {};
        for (const [rawKey, v] of Object.entries(raw)) {
          const k = spec.type.key === "uint64" ? uint64MapKey(rawKey) : rawKey;
          if (spec.type.key === "uint64" && !/^\d+$/.test(k)) this.fail(fpath, `map key ${JSON.stringify(rawKey)} is not an unsigned integer`);
          map[k] = this.value(v, spec.type.value, `${fpath}[${JSON.stringify(k)}]`);
        }
        out[name] = map;
      } else if (spec.repeated) {
        if (!Array.isArray(raw)) this.fail(fpath, `expected an array, got ${jsonKind(raw)}`);
        out[name] = raw.map((item, i) => this.value(item, spec.type, `${fpath}[${i}]`));
      } else {
        out[name] = this.value(raw, spec.type, fpath);
      }
    }
    checkOneofs(schema, new Set(Object.keys(out)), (f, m) => this.fail(join(path, f), m));
    return out;
  }

  private value(v: unknown, type: FieldType, path: string): unknown {
    switch (type.kind) {
      case "message":
        return this.message(v, type.schema, path);
      case "map":
        throw new Error("unreachable: nested maps are not in the schema");
      case "enum":
        if (typeof v === "string" && type.values.includes(v)) return v;
        if (typeof v === "number" && Number.isInteger(v) && type.values[v] !== undefined) return type.values[v];
        this.fail(path, `invalid ${type.name} value ${JSON.stringify(v)}; expected one of ${type.values.join(", ")}`);
    }
    const fail = (msg: string): never => this.fail(path, msg);
    switch (type.type) {
      case "string":
        if (typeof v !== "string") fail(`expected a string, got ${jsonKind(v)}`);
        return v;
      case "bool":
        if (typeof v !== "boolean") fail(`expected true or false, got ${jsonKind(v)}`);
        return v;
      case "float":
        if (typeof v !== "number") fail(`expected a number, got ${jsonKind(v)}`);
        return v;
      default: {
        let n: number;
        if (typeof v === "number") n = v;
        else if (typeof v === "string" && /^-?\d+$/.test(v)) n = Number(v);
        else fail(`expected an integer (${type.type}), got ${jsonKind(v)}`);
        return checkInteger(n!, type.type, fail);
      }
    }
  }
}

/**
 * protobufjs (grpc-js clients with `longs: String`) hands 64-bit map keys out as their 8-byte
 * little-endian "hash" string instead of digits; a config read that way and sent back is read as the number.
 */
function uint64MapKey(key: string): string {
  if (key.length !== 8 || /^\d+$/.test(key)) return key;
  let n = 0n;
  for (let i = 7; i >= 0; i--) {
    const c = key.charCodeAt(i);
    if (c > 255) return key;
    n = (n << 8n) | BigInt(c);
  }
  return n.toString();
}

/** `name` is a oneof of `schema` and `value` names one of its members (or none: ""). */
function isOneofMarker(schema: MessageSchema, name: string, value: unknown): boolean {
  if (typeof value !== "string") return false;
  let isOneof = false;
  for (const [field, spec] of Object.entries(schema.fields)) {
    if (spec.oneof !== name) continue;
    isOneof = true;
    if (field === value) return true;
  }
  return isOneof && value === "";
}

function jsonKind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Decodes a JSON ModelConfig (already parsed); errors name `source` and the JSON path. */
export function decodeJsonConfig(json: unknown, schema: MessageSchema, source: string): { value: Decoded; locator: Locator } {
  const decoder = new JsonDecoder(source);
  return { value: decoder.message(json, schema, ""), locator: decoder };
}
