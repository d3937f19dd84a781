// The values of `iaas bench --trace-rate` and `--otlp-endpoint`, apart from the SDK so that parsing them does
// not load OpenTelemetry (the SDK is imported only when a run traces).

/** Share of requests whose spans are exported when --trace-rate is not given: 1 in 100. */
export const DEFAULT_TRACE_RATE = 0.01;

/** "0.01", "1%", "1/100" -> 0.01. Throws a RangeError for anything else or a value outside 0..1. */
export function parseTraceRate(text: string): number {
  const t = text.trim();
  let v: number;
  const frac = /^(\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)$/.exec(t);
  const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(t);
  if (frac) v = Number(frac[1]) / Number(frac[2]);
  else if (pct) v = Number(pct[1]) / 100;
  else if (/^(\d+(\.\d*)?|\.\d+)$/.test(t)) v = Number(t);
  else throw new RangeError(`trace rate "${text}": expected a fraction (0.01), a percentage (1%) or 1/N (1/100)`);
  if (!(v >= 0 && v <= 1) || !Number.isFinite(v)) throw new RangeError(`trace rate "${text}" is ${v}; it must be between 0 and 1`);
  return v;
}

/** The OTLP traces URL for an endpoint: a bare origin gets /v1/traces. */
export function tracesUrl(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new RangeError(`OTLP endpoint "${endpoint}" is not a URL; expected e.g. http://localhost:4318`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new RangeError(`OTLP endpoint "${endpoint}": only http:// and https:// (OTLP/HTTP) are supported`);
  if (url.pathname === "/" || url.pathname === "") url.pathname = "/v1/traces";
  return url.toString();
}

