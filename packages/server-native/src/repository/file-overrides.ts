// Triton's model-file overrides on a repository load: parameters named "file:<path>" (for example
// "file:1/model.bin") whose contents replace the model directory. The files are written into a fresh
// temporary repository that holds only this model, and the model is loaded from there; its numeric
// folders are the versions it offers.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { invalidArg } from "../core/errors.ts";

export const FILE_PARAMETER_PREFIX = "file:";

export interface FileOverride {
  /** Path inside the model directory, "/"-separated, e.g. "1/model.bin". */
  path: string;
  content: Buffer;
}

export interface OverrideRepository {
  /** Repository root holding the one model folder. */
  root: string;
  /** Deletes the temporary repository. */
  remove(): Promise<void>;
}

/** Checks the path of a "file:" parameter: relative, "/"-separated, no empty, "." or ".." parts. */
export function overridePath(key: string): string {
  const path = key.slice(FILE_PARAMETER_PREFIX.length);
  const parts = path.split("/");
  if (
    path === "" ||
    path.includes("\\") ||
    path.includes("\0") ||
    parts.some((p) => p === "" || p === "." || p === "..")
  )
    throw invalidArg(
      `load parameter '${key}': the file path must be relative to the model directory, '/'-separated, without empty, '.' or '..' parts (e.g. 'file:1/model.bin')`,
    );
  return path;
}

/** Decodes the base64 value of a "file:" parameter sent over HTTP. */
export function base64Content(key: string, value: unknown): Buffer {
  if (typeof value !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(value.replace(/\s+/g, "")) || value.replace(/\s+/g, "").length % 4 !== 0)
    throw invalidArg(`load parameter '${key}' must be a base64 string holding the file's content`);
  return Buffer.from(value, "base64");
}

/** Writes the files into a new temporary repository under `<tmp>/iaas-override-*` / `<model>`. */
export async function writeOverrideRepository(model: string, files: readonly FileOverride[]): Promise<OverrideRepository> {
  // The model name becomes a folder name: it must not reach outside the temporary repository.
  if (model === "" || model === "." || model === ".." || /[\\/\0]/.test(model)) throw invalidArg(`invalid model name '${model}'`);
  const root = await mkdtemp(join(tmpdir(), "iaas-override-"));
  const remove = (): Promise<void> => rm(root, { recursive: true, force: true });
  try {
    const dir = join(root, model);
    await mkdir(dir);
    for (const f of files) {
      const target = join(dir, ...f.path.split("/"));
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, f.content);
    }
  } catch (err) {
    await remove();
    throw invalidArg(`cannot write the override files of model '${model}': ${(err as Error).message}`);
  }
  return { root, remove };
}
