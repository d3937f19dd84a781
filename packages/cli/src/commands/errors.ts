// Errors the command layer turns into exit codes: usage problems exit 2 (like commander's own), the rest 1.

/** Exit codes of `iaas`. */
export const EXIT = { ok: 0, runtime: 1, usage: 2, interrupted: 130 } as const;

/** A bad option value found after commander parsed the line (exit code 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
