// Validation of millisecond options shared by both transports, with errors that name the option.
import { InferenceError } from "../errors.ts";

export function checkMs(name: string, value: number | undefined, allowZero = true): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0))
    throw new InferenceError("invalid_argument", `createClient: ${name} must be a ${allowZero ? "non-negative" : "positive"} number of milliseconds, got ${String(value)}`);
}

export function checkConnectTimeout(value: number | undefined): void {
  checkMs("connectTimeoutMs", value, false);
}
