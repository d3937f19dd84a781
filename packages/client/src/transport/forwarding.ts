// Layers (retries, balancing, tracing) wrap a Transport and handle the methods they know. Everything
// else a transport offers, including methods added to the Transport interface later, is forwarded
// unchanged by the objects built here, so a new operation works through every layer from the start.

// Not forwarded: `inferWith` and `inferCallback` are infer by other roads; a layer that handles infer must
// offer them itself (or not at all), else calls through it would skip the layer (transport.ts, InferEnd).
const NOT_FORWARDED = new Set(["constructor", "inferWith", "inferCallback"]);

function methodNames(target: object): string[] {
  const names = new Set<string>();
  for (let p: object | null = target; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null)
    for (const name of Object.getOwnPropertyNames(p))
      if (!NOT_FORWARDED.has(name) && typeof (target as Record<string, unknown>)[name] === "function") names.add(name);
  return [...names];
}

/**
 * An object with every method of `target`, each calling the same method of `route(name)` (by default
 * `target` itself), and a copy of `target`'s own data properties (protocol, url).
 */
export function forwardAll<T extends object>(target: T, route: (method: string) => object = () => target): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(target)) if (typeof value !== "function") out[key] = value;
  for (const name of methodNames(target))
    out[name] = (...args: unknown[]) => {
      const to = route(name) as Record<string, (...a: unknown[]) => unknown>;
      return to[name]!(...args);
    };
  return out as T;
}
