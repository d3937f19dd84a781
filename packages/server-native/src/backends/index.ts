// The backends a model config can name in its `backend` field.
import type { Backend } from "./backend.ts";
import type { JsBackend } from "./js-backend.ts";
import { repeatBackend } from "./repeat.ts";
import { simpleSequenceBackend } from "./simple-sequence.ts";
import { denseMlpBackend } from "./dense-mlp.ts";
import { identityBackend } from "./identity.ts";
import { simpleStringBackend } from "./simple-string.ts";
import { simpleBackend } from "./simple.ts";
import { stallBackend } from "./stall.ts";

export const BACKENDS: ReadonlyMap<string, Backend | JsBackend> = new Map<string, Backend | JsBackend>(
  [simpleBackend, simpleStringBackend, identityBackend, denseMlpBackend, simpleSequenceBackend, repeatBackend, stallBackend].map((b) => [b.name, b]),
);

export type { Backend, BackendModel, CheckedInput, ExecutionPlan, PlannedOutput } from "./backend.ts";
export { checkInputs } from "./check-inputs.ts";
