// `--instances`: reload the model with another instance_group count through the model repository extension
// (load with a config override), everything else in its configuration unchanged, and put it back after.
import { setTimeout as sleep } from "node:timers/promises";
import { InferenceError, type InferenceClient } from "@iaas/client";

type Config = Record<string, unknown>;

/** Codes meaning "this server cannot do that at all" (no extension, or explicit model control disabled). */
const UNSUPPORTED = new Set(["unimplemented", "not_found", "permission_denied", "failed_precondition"]);
const READY_TIMEOUT_MS = 60_000;

function describe(err: unknown): string {
  if (err instanceof InferenceError) return `${err.message} [${err.code}]`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Drops proto3 default values ("", false, 0, empty lists): identical to absent fields in a ModelConfig, and
 * the configuration read back (over gRPC especially) carries every field the server's proto knows, some of
 * which a server may not accept in an override (e.g. instance_group.profile). Messages are kept even when
 * empty: their presence can matter (`dynamic_batching: {}` turns batching on).
 */
export function pruneDefaults(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(pruneDefaults);
  if (value === null || typeof value !== "object") return value;
  const out: Config = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === "" || v === false || v === 0 || (Array.isArray(v) && v.length === 0)) continue;
    out[k] = pruneDefaults(v);
  }
  return out;
}

function groupsOf(config: Config): Config[] {
  const groups = config["instance_group"];
  return Array.isArray(groups) ? (groups.filter((g) => g !== null && typeof g === "object") as Config[]) : [];
}

/** The config with every instance_group's count set to `count` (one group of `count` when it has none). */
export function withInstanceCount(config: Config, count: number): Config {
  const copy = structuredClone(config);
  const groups = groupsOf(copy);
  copy["instance_group"] = groups.length === 0 ? [{ count }] : groups.map((g) => ({ ...g, count }));
  return copy;
}

/** The instance_group count when every group has the same one (1 when unset, as in Triton); null otherwise. */
export function instanceCountOf(config: Config): number | null {
  const groups = groupsOf(config);
  if (groups.length === 0) return null;
  const counts = new Set(groups.map((g) => Number(g["count"] ?? 1)));
  return counts.size === 1 ? [...counts][0]! : null;
}

export interface InstanceSweepReport {
  /** The counts asked for. */
  requested: number[];
  /** The server could reload the model with another count. */
  supported: boolean;
  /** The instance_group count before the sweep (null when unknown). */
  original: number | null;
  /** true: the original configuration was loaded back; false: that failed (see restoreError); null: nothing to restore. */
  restored: boolean | null;
  restoreError?: string;
  note?: string;
}

export class InstanceSweep {
  readonly report: InstanceSweepReport;
  #client: InferenceClient;
  #model: string;
  #version: string | undefined;
  #original: Config | undefined;
  #reloaded = false;

  constructor(client: InferenceClient, model: string, requested: number[], version?: string) {
    this.#client = client;
    this.#model = model;
    this.#version = version;
    this.report = { requested, supported: false, original: null, restored: null };
  }

  /** Reads the current configuration; false (with report.note) when the server does not give it. */
  async prepare(): Promise<boolean> {
    try {
      const config = await this.#client.modelConfig(this.#model, this.#version !== undefined ? { version: this.#version } : {});
      this.#original = pruneDefaults(config) as Config;
      this.report.original = instanceCountOf(this.#original);
      this.report.supported = true;
      return true;
    } catch (err) {
      this.report.note = `cannot read model "${this.#model}"'s configuration (${describe(err)}): the server lacks the model configuration extension; sweeping at its current instance count`;
      return false;
    }
  }

  /**
   * Reloads with `count` instances per group and waits until ready; resolves to the count the server reports
   * loaded. Resolves null (with report.note, report.supported false) when the server has no repository
   * extension; throws when the server rejects this count.
   */
  async apply(count: number): Promise<number | null> {
    if (!this.#original) throw new Error("InstanceSweep.apply before prepare");
    try {
      await this.#client.loadModel(this.#model, { config: withInstanceCount(this.#original, count) });
    } catch (err) {
      if (!this.#reloaded && err instanceof InferenceError && UNSUPPORTED.has(err.code)) {
        this.report.supported = false;
        this.report.note = `the server cannot reload model "${this.#model}" (${describe(err)}): no model repository extension or explicit model control; sweeping at its current instance count`;
        return null;
      }
      throw new Error(`cannot load model "${this.#model}" with ${count} instance(s): ${describe(err)}`, { cause: err });
    }
    this.#reloaded = true;
    await this.#waitReady();
    const loaded = await this.#client.modelConfig(this.#model).then(
      (c) => instanceCountOf(c),
      () => null,
    );
    return loaded;
  }

  /** Loads the configuration read by prepare() back, when the model was reloaded; never throws. */
  async restore(): Promise<void> {
    if (!this.#reloaded || !this.#original) return;
    try {
      await this.#client.loadModel(this.#model, { config: this.#original });
      await this.#waitReady();
      this.report.restored = true;
    } catch (err) {
      this.report.restored = false;
      this.report.restoreError = describe(err);
    }
  }

  async #waitReady(): Promise<void> {
    const deadline = performance.now() + READY_TIMEOUT_MS;
    for (;;) {
      const ready = await this.#client.isModelReady(this.#model, this.#version !== undefined ? { version: this.#version } : {}).catch(() => false);
      if (ready) return;
      if (performance.now() > deadline) throw new Error(`model "${this.#model}" not ready ${READY_TIMEOUT_MS / 1000} s after the reload`);
      await sleep(100);
    }
  }
}
