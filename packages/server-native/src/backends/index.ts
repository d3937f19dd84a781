// The backends a model config can name in its `backend` field.
import type { Backend } from "./backend.ts";
import { denseMlpBackend } from "./dense-mlp.ts";
import { identityBackend } from "./identity.ts";
import { simpleBackend } from "./simple.ts";

export const BACKENDS: ReadonlyMap<string, Backend> = new Map([simpleBackend, identityBackend, denseMlpBackend].map((b) => [b.name, b]));

export type { Backend, BackendModel, CheckedInput, ExecutionPlan, PlannedOutput } from "./backend.ts";
export { checkInputs } from "./check-inputs.ts";
