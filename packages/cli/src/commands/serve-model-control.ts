// `iaas serve` flags for Triton's model control: --model-control-mode none|explicit|poll, --load-model
// (repeatable, "*" = all; explicit mode only) and --repository-poll-secs (poll mode).
import { InvalidArgumentError, Option, type Command } from "commander";
import { MODEL_CONTROL_MODES, type ModelControlMode, type StartServerOptions } from "@iaas/server-native";
import { UsageError } from "./errors.ts";
import * as parse from "./parsers.ts";

export interface ServeModelControlFlags {
  modelControlMode?: ModelControlMode;
  loadModel?: string[];
  repositoryPollSecs?: number;
}

function mode(value: string): ModelControlMode {
  if (!(MODEL_CONTROL_MODES as readonly string[]).includes(value))
    throw new InvalidArgumentError(`choose one of ${MODEL_CONTROL_MODES.join(", ")}.`);
  return value as ModelControlMode;
}

export function addServeModelControlOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        "--model-control-mode <mode>",
        "none: load every model, refuse API load/unload; explicit: load --load-model models (default all), API allowed; poll: load every model and rescan the repository (default: explicit)",
      ).argParser(mode),
    )
    .option("--load-model <name>", "explicit mode: a model to load at start, repeatable; '*' loads every model (default: every model)", parse.collect)
    .addOption(new Option("--repository-poll-secs <seconds>", "poll mode: seconds between repository scans (default 15)").argParser(parse.positiveNumber));
}

type ModelControlStartOptions = Pick<StartServerOptions, "modelControlMode" | "loadModels" | "repositoryPollSecs">;

/** The startServer options; combinations that cannot work are usage errors here. */
export function serveModelControlOptions(flags: ServeModelControlFlags): ModelControlStartOptions {
  const out: ModelControlStartOptions = {};
  const m = flags.modelControlMode ?? "explicit";
  if (flags.loadModel !== undefined && m !== "explicit")
    throw new UsageError(`--load-model needs --model-control-mode explicit (mode ${m} loads every model)`);
  if (flags.repositoryPollSecs !== undefined && m !== "poll")
    throw new UsageError(`--repository-poll-secs needs --model-control-mode poll`);
  if (flags.modelControlMode !== undefined) out.modelControlMode = flags.modelControlMode;
  if (flags.loadModel !== undefined) out.loadModels = flags.loadModel;
  if (flags.repositoryPollSecs !== undefined) out.repositoryPollSecs = flags.repositoryPollSecs;
  return out;
}
