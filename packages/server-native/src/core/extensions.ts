// Which Triton protocol extensions a server instance advertises in its metadata and serves. Restricting
// them (server option `extensions`) makes the reference server answer like a plain KServe/MLServer
// server: the endpoints of a disabled extension answer HTTP 404 and gRPC UNIMPLEMENTED.
import { invalidArg } from "./errors.ts";

// Advertised together with model_repository: unload accepts the unload_dependents parameter.
const UNLOAD_DEPENDENTS = "model_repository(unload_dependents)";

export class ExtensionSet {
  private readonly enabled: ReadonlySet<string>;
  private readonly order: readonly string[];

  /**
   * `supported`: every extension the server implements, in the order metadata lists them.
   * `requested`: the subset to enable (undefined = all); an unknown name is an INVALID_ARG error that
   * lists the supported ones.
   */
  constructor(supported: readonly string[], requested?: readonly string[]) {
    this.order = supported;
    if (requested === undefined) {
      this.enabled = new Set(supported);
      return;
    }
    if (!Array.isArray(requested)) throw invalidArg("extensions must be an array of extension names");
    const set = new Set<string>();
    for (const name of requested) {
      if (typeof name !== "string" || !supported.includes(name))
        throw invalidArg(`unknown protocol extension ${JSON.stringify(name)}; this server implements: ${supported.join(", ")}`);
      set.add(name);
    }
    if (set.has("model_repository") && supported.includes(UNLOAD_DEPENDENTS)) set.add(UNLOAD_DEPENDENTS);
    this.enabled = set;
  }

  has(name: string): boolean {
    return this.enabled.has(name);
  }

  /** The enabled extensions, as server metadata lists them. */
  list(): string[] {
    return this.order.filter((n) => this.enabled.has(n));
  }
}
