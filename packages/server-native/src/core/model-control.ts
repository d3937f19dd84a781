// Triton's model control modes (--model-control-mode): which models load at start, whether clients may
// load and unload through the repository API, and the repository poller.
//   none:     every model of the repository loads at start; API load/unload is refused.
//   explicit: the models named in loadModels ("*" = all) load at start; API load/unload allowed.
//   poll:     every model loads at start, then the repository is rescanned every pollSecs: new model
//             folders load, removed ones unload, changed ones (any file's size or mtime, or config.pbtxt's
//             text) reload, swapping instances without dropping requests in flight. API load/unload refused.
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { listRepositoryModels } from "../repository/repository.ts";
import { ServerError, toServerError } from "./errors.ts";
import type { InferenceServer } from "./inference-server.ts";

export const MODEL_CONTROL_MODES = ["none", "explicit", "poll"] as const;
export type ModelControlMode = (typeof MODEL_CONTROL_MODES)[number];

export interface ModelControlOptions {
  /** Default "explicit" (with every model loaded at start unless `loadModels` says otherwise). */
  mode?: ModelControlMode;
  /** explicit mode: models to load at start; "*" loads all. Default: all. Not allowed with the other modes. */
  loadModels?: readonly string[];
  /** poll mode: seconds between repository scans (> 0). Default 15, as Triton's --repository-poll-secs. */
  pollSecs?: number;
}

/** Triton's answer to a repository load/unload request outside explicit mode (it says "polling" for none too). */
export function modelControlRefusal(mode: ModelControlMode, action: "load" | "unload", model: string): ServerError {
  return new ServerError(
    "UNAVAILABLE",
    `explicit model load / unload is not allowed if polling is enabled (model control mode '${mode}' refuses to ${action} '${model}'; ` +
      "start the server with model control mode 'explicit' to manage models through the API)",
  );
}

/** Checks the options before anything starts; errors say which option is wrong. */
export function checkModelControlOptions(o: ModelControlOptions): void {
  const mode = o.mode ?? "explicit";
  if (!MODEL_CONTROL_MODES.includes(mode)) throw new Error(`model control mode must be one of ${MODEL_CONTROL_MODES.join(", ")}, got ${JSON.stringify(mode)}`);
  if (o.loadModels !== undefined && mode !== "explicit")
    throw new Error(`models to load at start (--load-model) need model control mode 'explicit'; mode '${mode}' loads every model`);
  if (o.pollSecs !== undefined && !(Number.isFinite(o.pollSecs) && o.pollSecs > 0))
    throw new Error(`repository poll interval must be a number of seconds > 0, got ${o.pollSecs}`);
  for (const name of o.loadModels ?? []) if (name === "") throw new Error("a model to load at start (--load-model) has an empty name");
}

/** What a model folder looks like on disk: every file's path, size and mtime, and config.pbtxt's text. */
async function fingerprint(dir: string): Promise<string> {
  const hash = createHash("sha256");
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(join(dir, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const path = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        hash.update(`d ${path}\n`);
        await walk(path);
      } else {
        const s = await stat(join(dir, path));
        hash.update(`f ${path} ${s.size} ${s.mtimeMs}\n`);
      }
    }
  };
  await walk("");
  // Edits within the filesystem's timestamp granularity keep the mtime: the config text decides then.
  try {
    hash.update(await readFile(join(dir, "config.pbtxt")));
  } catch {
    hash.update("no config");
  }
  return hash.digest("hex");
}

export class ModelControl {
  readonly mode: ModelControlMode;
  private readonly server: InferenceServer;
  private readonly loadModels: readonly string[] | undefined;
  private readonly pollMs: number;
  /** poll mode: the fingerprint each repository model had when last loaded (or last failed to load). */
  private readonly seen = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;

  constructor(server: InferenceServer, options: ModelControlOptions = {}) {
    checkModelControlOptions(options);
    this.server = server;
    this.mode = options.mode ?? "explicit";
    this.loadModels = options.loadModels;
    this.pollMs = (options.pollSecs ?? 15) * 1000;
  }

  /** Loads the start-up models; returns those that failed. In poll mode, starts polling afterwards. */
  async start(): Promise<{ name: string; error: ServerError }[]> {
    const all = await listRepositoryModels(this.server.modelRepository);
    const wanted = this.loadModels === undefined || this.loadModels.includes("*") ? all : [...new Set(this.loadModels)];
    const failed: { name: string; error: ServerError }[] = [];
    for (const name of wanted) {
      const print = this.mode === "poll" ? await fingerprint(join(this.server.modelRepository, name)).catch(() => "") : "";
      try {
        await this.server.loadModel(name);
      } catch (err) {
        failed.push({ name, error: toServerError(err) });
      }
      if (this.mode === "poll") this.seen.set(name, print);
    }
    if (this.mode === "poll") this.schedule();
    return failed;
  }

  /** Throws unless clients may load/unload models through the repository API (explicit mode only). */
  checkApi(action: "load" | "unload", model: string): void {
    if (this.mode !== "explicit") throw modelControlRefusal(this.mode, action, model);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll().finally(() => {
        this.polling = undefined;
        this.schedule();
      });
    }, this.pollMs);
    // The poller alone must not keep the process alive.
    this.timer.unref();
  }

  /** One repository scan (poll mode): loads new models, unloads removed ones, reloads changed ones. */
  async poll(): Promise<void> {
    const log = this.server.logger.log;
    let names: string[];
    try {
      names = await listRepositoryModels(this.server.modelRepository);
    } catch (err) {
      log(`repository poll: ${(err as Error).message}`, "error");
      return;
    }
    for (const name of names) {
      if (this.stopped) return;
      let print: string;
      try {
        print = await fingerprint(join(this.server.modelRepository, name));
      } catch {
        continue; // removed or being written while scanned: the next poll looks again
      }
      const before = this.seen.get(name);
      if (before === print) continue;
      this.seen.set(name, print);
      log(`repository poll: ${before === undefined ? "loading new" : "reloading changed"} model '${name}'`);
      // A failed load is recorded on the model (index: UNAVAILABLE + reason; a reload keeps the old one
      // serving) and retried once its files change again.
      await this.server.loadModel(name).catch(() => {});
    }
    for (const name of [...this.seen.keys()]) {
      if (this.stopped) return;
      if (names.includes(name)) continue;
      this.seen.delete(name);
      log(`repository poll: unloading removed model '${name}'`);
      await this.server.unloadModel(name).catch((err: unknown) => log(`repository poll: unloading '${name}': ${(err as Error).message}`, "error"));
    }
  }

  /** Stops polling and waits for a scan in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.polling;
  }
}
