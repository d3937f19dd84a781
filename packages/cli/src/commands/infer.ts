// `iaas infer`: one KServe v2 JSON request through the client, the response printed as KServe v2 JSON.
import { readFile } from "node:fs/promises";
import { text } from "node:stream/consumers";
import { Option, type Command } from "commander";
import { createClient, InferenceError, type InferResult, type Protocol } from "@iaas/client";
import { stringifyJson } from "@iaas/client/protocol";
import { parseInferRequest } from "../inputs/request-json.ts";
import { EXIT, UsageError } from "./errors.ts";
import * as parse from "./parsers.ts";

interface InferFlags {
  url?: string;
  protocol: Protocol;
  model: string;
  modelVersion?: string;
  data: string;
  binary?: boolean;
  jsonTensors?: boolean;
  header?: Record<string, string>;
  timeoutMs?: number;
}

export const DEFAULT_URL: Readonly<Record<Protocol, string>> = { http: "http://127.0.0.1:8000", grpc: "127.0.0.1:8001" };

export function registerInfer(program: Command): void {
  program
    .command("infer")
    .description("send one KServe v2 JSON inference request and print the response as KServe v2 JSON")
    .requiredOption("-m, --model <name>", "model name")
    .requiredOption("--data <file>", "request JSON {id?, parameters?, inputs:[{name,shape,datatype,data}], outputs?:[{name}]}; - reads stdin")
    .option("-u, --url <url>", `server URL (default ${DEFAULT_URL.http} for http, ${DEFAULT_URL.grpc} for grpc)`)
    .addOption(new Option("-i, --protocol <protocol>", "protocol").choices(["http", "grpc"]).default("http"))
    .option("--model-version <version>", "model version (server's latest when absent)")
    .addOption(new Option("--binary", "HTTP: send and receive tensors with the binary extension (the default)").conflicts("jsonTensors"))
    .option("--json-tensors", "HTTP: send and receive tensors as JSON")
    .option("-H, --header <header>", 'HTTP header / gRPC metadata "Name: value" (repeatable)', parse.header)
    .addOption(new Option("--timeout-ms <ms>", "deadline of the request").argParser(parse.integerAtLeast(1)))
    .addHelpText(
      "after",
      `
Prints {model_name, model_version, id, parameters, outputs:[{name, datatype, shape, data}]} on one line;
INT64/UINT64 data is written exactly. Exit codes: 0 success, 1 bad request file or server error
(the message names the file position or the server's error code), 2 usage error.

Example:
  echo '{"inputs":[{"name":"INPUT0","shape":[1,16],"datatype":"INT32","data":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]},
                   {"name":"INPUT1","shape":[1,16],"datatype":"INT32","data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]}' |
    iaas infer -m simple --data -`,
    )
    .action(async (flags: InferFlags) => {
      process.exitCode = await runInfer(flags);
    });
}

/** The KServe v2 JSON form of a result (data flat, row-major). */
export function resultToJson(result: InferResult): Record<string, unknown> {
  return {
    model_name: result.modelName,
    model_version: result.modelVersion,
    id: result.id,
    parameters: result.parameters,
    outputs: result.outputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: [...t.shape], data: t.toJSONData() })),
  };
}

async function readRequest(file: string): Promise<string> {
  if (file === "-") return text(process.stdin);
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`cannot read request file ${file}: ${e.code === "ENOENT" ? "no such file" : e.message}`);
  }
}

async function runInfer(flags: InferFlags): Promise<number> {
  if (flags.protocol === "grpc" && (flags.jsonTensors || flags.binary))
    throw new UsageError("--binary and --json-tensors apply to HTTP only; gRPC always sends raw tensors");
  const source = flags.data === "-" ? "stdin" : flags.data;
  const request = parseInferRequest(await readRequest(flags.data), source);
  if (flags.modelVersion !== undefined) request.options.version = flags.modelVersion;
  if (flags.timeoutMs !== undefined) request.options.timeoutMs = flags.timeoutMs;
  if (flags.jsonTensors) {
    request.options.binaryInputs = false;
    request.options.binaryOutputs = false;
  }
  const url = flags.url ?? DEFAULT_URL[flags.protocol];
  const client = createClient({ url, protocol: flags.protocol, ...(flags.header ? { headers: flags.header } : {}) });
  try {
    const result = await client.infer(flags.model, request.inputs, request.options);
    process.stdout.write(`${stringifyJson(resultToJson(result))}\n`);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof InferenceError) throw new InferenceError(err.code, `${url} (${flags.protocol}): ${err.message}`, { cause: err });
    throw err;
  } finally {
    await client.close();
  }
}
