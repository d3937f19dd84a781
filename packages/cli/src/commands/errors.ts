// Errors the command layer turns into exit codes: usage problems exit 2 (like commander's own), the rest 1.

/** Exit codes of `iaas`. */
export const EXIT = {
  ok: 0,
  /** Runtime error: server unreachable, model not found, a level where every request failed. */
  runtime: 1,
  usage: 2,
  /** Performance gate failed: a `bench --fail-if` threshold breached, or `compare` found a regression. */
  gateFailed: 3,
  /** `compare` input unreadable, not a bench report, or reports that cannot be matched. */
  badInput: 4,
  interrupted: 130,
} as const;

/** A bad option value found after commander parsed the line (exit code 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
