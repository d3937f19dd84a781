// A Triton-layout model repository on disk: one folder per model holding config.pbtxt and numeric
// version folders (1/, 2/, ...). Which versions are served follows the config's version_policy.
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { ServerError } from "../core/errors.ts";
import { configFromJson, configFromPbtxt, type LocatedConfig, type ModelConfig } from "./model-config.ts";

export const CONFIG_FILE = "config.pbtxt";

/** What a model folder defines: its config and the versions to serve, ascending. */
export interface ModelDefinition extends LocatedConfig {
  versions: number[];
}

/** Model folder names in a repository, sorted; hidden folders are skipped. */
export async function listRepositoryModels(root: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (err) {
    throw new ServerError("INVALID_ARG", `cannot read model repository '${root}': ${(err as Error).message}`);
  }
  return entries
    .filter((e) => e.isDirectory() && !e.name.startsWith("."))
    .map((e) => e.name)
    .sort();
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Reads one model's definition. `configOverride` (JSON text of a ModelConfig, from a repository load
 * request) replaces config.pbtxt entirely, as in Triton.
 */
export async function readModelDefinition(root: string, name: string, configOverride?: string): Promise<ModelDefinition> {
  if (name === "" || name.includes("/") || name.includes("\\") || name === "." || name === "..")
    throw new ServerError("INVALID_ARG", `invalid model name '${name}'`);
  const dir = join(root, name);
  if (!(await isDirectory(dir))) throw new ServerError("NOT_FOUND", `model '${name}' is not in the model repository '${root}'`);

  let located: LocatedConfig;
  if (configOverride !== undefined) {
    located = configFromJson(configOverride, `config override for model '${name}'`, name);
  } else {
    const file = join(dir, CONFIG_FILE);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      throw new ServerError("INVALID_ARG", `model '${name}' has no readable ${CONFIG_FILE} (${file}): ${(err as Error).message}`);
    }
    located = configFromPbtxt(text, file, name);
  }

  const entries = await readdir(dir, { withFileTypes: true });
  const available = entries
    .filter((e) => e.isDirectory() && /^\d+$/.test(e.name))
    .map((e) => Number(e.name))
    .sort((a, b) => a - b);
  // A model without version folders is served as version 1.
  const versions = selectVersions(located.config, available.length > 0 ? available : [1], located.locator.at("version_policy"));
  return { ...located, versions };
}

function selectVersions(config: ModelConfig, available: number[], where: string): number[] {
  const policy = config.version_policy;
  if (policy.all) return available;
  if (policy.specific) {
    const missing = policy.specific.versions.filter((v) => !available.includes(v));
    if (missing.length > 0)
      throw new ServerError("INVALID_ARG", `${where}: model '${config.name}' has no version folder for version(s) ${missing.join(", ")}`);
    return [...new Set(policy.specific.versions)].sort((a, b) => a - b);
  }
  return available.slice(-(policy.latest?.num_versions ?? 1));
}
