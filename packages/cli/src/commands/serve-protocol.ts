// `iaas serve` flags for the protocol surface: which Triton extensions to advertise and serve (the others
// answer like a KServe/MLServer server: HTTP 404, gRPC UNIMPLEMENTED), and whether the logging and trace
// settings endpoints may change the files the server writes.
import { InvalidArgumentError, type Command } from "commander";
import { SUPPORTED_EXTENSIONS, type StartServerOptions } from "@iaas/server-native";

export interface ServeProtocolFlags {
  extensions?: string[];
  allowFileSettings?: boolean;
}

/** "a,b" -> ["a", "b"]; "" or "none" -> [] (a plain KServe server); names are checked. */
export function parseExtensions(value: string): string[] {
  const names = value.trim() === "none" ? [] : value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const known = SUPPORTED_EXTENSIONS as readonly string[];
  for (const n of names)
    if (!known.includes(n)) throw new InvalidArgumentError(`unknown extension "${n}"; choose from ${known.join(", ")} (or "none").`);
  return names;
}

export function addServeProtocolOptions(command: Command): Command {
  return command
    .option(
      "--extensions <list>",
      `comma-separated Triton extensions to serve, "none" for a plain KServe v2 server (default: all of ${SUPPORTED_EXTENSIONS.join(", ")})`,
      parseExtensions,
    )
    .option("--allow-file-settings", "let POST v2/logging and v2/trace/setting change log_file / trace_file (paths the server writes to)");
}

export function serveProtocolOptions(flags: ServeProtocolFlags): Pick<StartServerOptions, "extensions" | "allowFileSettings"> {
  const out: Pick<StartServerOptions, "extensions" | "allowFileSettings"> = {};
  if (flags.extensions !== undefined) out.extensions = flags.extensions;
  if (flags.allowFileSettings === true) out.allowFileSettings = true;
  return out;
}
