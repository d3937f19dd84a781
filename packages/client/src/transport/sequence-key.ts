// Requests of one sequence (a stateful model's correlation id) must reach the server that holds its
// state, and must not be replayed once sent: balancing pins them, retries spare them.

/** The sequence a request belongs to (its sequence_id parameter; 0 and "" mean none), as a string. */
export function sequenceKey(parameters: Record<string, unknown> | undefined): string | undefined {
  const id = parameters?.sequence_id;
  if (id === undefined || id === 0 || id === 0n || id === "") return undefined;
  return typeof id === "string" ? `s:${id}` : `n:${String(id)}`;
}
