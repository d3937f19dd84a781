// Classification labels: an output's `label_filename` names a text file in the model directory, one
// label per line, line i labelling class index i.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { configError, type Locator } from "./config-decode.ts";
import type { ModelConfig } from "./model-config.ts";

/** Labels per output name, for the outputs that set label_filename. */
export async function readLabels(config: ModelConfig, modelDir: string, at: Locator): Promise<Map<string, string[]>> {
  const labels = new Map<string, string[]>();
  for (const [i, o] of config.output.entries()) {
    const file = o.label_filename;
    if (file === "") continue;
    const where = at.at(`output[${i}].label_filename`);
    // The file must stay inside the model directory: a config sent over the API must not read other files.
    const parts = file.split(/[\\/]/);
    if (file.startsWith("/") || /^[A-Za-z]:/.test(file) || parts.some((p) => p === ".." || p === ""))
      throw configError(where, `label file '${file}' of output '${o.name}' must be a relative path inside the model directory`);
    let text: string;
    try {
      text = await readFile(join(modelDir, ...parts), "utf8");
    } catch (err) {
      throw configError(where, `cannot read label file '${file}' of output '${o.name}': ${(err as Error).message}`);
    }
    const lines = text.split(/\r?\n/);
    if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
    labels.set(o.name, lines);
  }
  return labels;
}
