// Reading W3C trace context (traceparent, tracestate) from where a front end received it: node:http's
// header object (lower-case keys) or grpc-js Metadata. Front ends hand over the object as it is; it is
// only read for requests the trace settings sample.
import type { TextMapGetter } from "@opentelemetry/api";
import type { TraceCarrier } from "../core/types.ts";

type MetadataLike = { get(key: string): unknown[]; getMap(): Record<string, unknown> };
type HeaderObject = Readonly<Record<string, string | string[] | undefined>>;

// A header named "get" is a string, never a function: the test tells the two shapes apart.
const isMetadata = (c: TraceCarrier): c is MetadataLike => typeof (c as { get?: unknown }).get === "function";

function first(v: unknown): string | undefined {
  const one: unknown = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : typeof one === "string" ? one : Buffer.isBuffer(one) ? one.toString("latin1") : String(one);
}

export const carrierGetter: TextMapGetter<TraceCarrier> = {
  keys: (c) => Object.keys(isMetadata(c) ? c.getMap() : c),
  get: (c, key) => first(isMetadata(c) ? c.get(key) : (c as HeaderObject)[key]),
};
