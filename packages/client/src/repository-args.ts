// Argument checks for the model repository calls.
import { InferenceError } from "./errors.ts";

/** LoadModelOptions.files as the transports send them; paths are checked here, contents as given. */
export function loadFiles(files: Record<string, Uint8Array | string> | undefined, hasConfig: boolean): { path: string; content: Uint8Array }[] | undefined {
  if (files === undefined) return undefined;
  if (files === null || typeof files !== "object" || Array.isArray(files))
    throw new InferenceError("invalid_argument", "loadModel: files must be an object of path -> content (Uint8Array or string)");
  const out: { path: string; content: Uint8Array }[] = [];
  for (const [path, content] of Object.entries(files)) {
    if (path === "" || path.startsWith("/") || path.split("/").some((p) => p === "" || p === "." || p === ".."))
      throw new InferenceError("invalid_argument", `loadModel: file path "${path}" must be relative to the model directory, like "1/model.bin"`);
    if (typeof content === "string") out.push({ path, content: Buffer.from(content, "utf8") });
    else if (content instanceof Uint8Array) out.push({ path, content });
    else throw new InferenceError("invalid_argument", `loadModel: file "${path}" must be a Uint8Array or a string`);
  }
  if (out.length > 0 && !hasConfig)
    throw new InferenceError("invalid_argument", "loadModel: files need a config override as well (options.config), as the protocol requires");
  return out.length > 0 ? out : undefined;
}
