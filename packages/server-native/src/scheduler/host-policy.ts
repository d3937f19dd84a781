// Triton's host policies: named sets of CPU cores (`--host-policy=NAME,cpu-cores=LIST`) that an instance
// group selects with `host_policy: "NAME"`; every thread of the group's instances is bound to those cores
// for its lifetime. Used to keep compute instances on cores of their own, e.g. one instance per core
// (two groups of count 1 with policies naming one core each), away from the front end and each other.
import { cpus } from "node:os";

export interface HostPolicy {
  /** CPU core numbers the group's instance threads may run on. */
  cpuCores: number[];
}

export type HostPolicies = Readonly<Record<string, HostPolicy>>;

/** "0-3,6" -> [0, 1, 2, 3, 6]; throws naming `where` on anything else. */
export function parseCpuCores(text: string, where: string): number[] {
  const cores = new Set<number>();
  const cpuCount = cpus().length;
  for (const part of text.split(",")) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (m === null) throw new Error(`${where}: cpu-cores must be a list of core numbers and ranges such as "0-3,6", got ${JSON.stringify(text)}`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) throw new Error(`${where}: cpu-cores range ${from}-${to} runs backwards`);
    if (to >= cpuCount) throw new Error(`${where}: cpu-cores names core ${to}, but this machine has cores 0-${cpuCount - 1}`);
    for (let c = from; c <= to; c++) cores.add(c);
  }
  return [...cores].sort((a, b) => a - b);
}

/**
 * Parses Triton-style `--host-policy` values, "NAME,SETTING=VALUE[,SETTING=VALUE...]" (a policy may be given
 * in several values, one setting each, as Triton allows). Only `cpu-cores` is supported.
 */
export function parseHostPolicies(values: readonly string[]): Record<string, HostPolicy> {
  const policies: Record<string, HostPolicy> = {};
  for (const value of values) {
    const where = `--host-policy ${JSON.stringify(value)}`;
    const [name, ...settings] = value.split(/,(?=[a-z-]+=)/);
    if (name === undefined || !/^[A-Za-z0-9_.-]+$/.test(name))
      throw new Error(`${where}: expected NAME,cpu-cores=LIST with a policy name of letters, digits, '_', '.' or '-'`);
    if (settings.length === 0) throw new Error(`${where}: no setting given; expected ${name},cpu-cores=LIST`);
    for (const s of settings) {
      const eq = s.indexOf("=");
      const key = s.slice(0, eq);
      if (key !== "cpu-cores")
        throw new Error(`${where}: setting '${key}' is not supported by iaas (only cpu-cores; numa-node memory binding is not implemented)`);
      policies[name] = { cpuCores: parseCpuCores(s.slice(eq + 1), where) };
    }
  }
  return policies;
}

/** The cores a group's instances are bound to ([] without a policy); throws when the policy is unknown. */
export function groupCpuCores(policies: HostPolicies, policyName: string, where: string): number[] {
  if (policyName === "") return [];
  const policy = Object.hasOwn(policies, policyName) ? policies[policyName] : undefined;
  if (policy === undefined) {
    const known = Object.keys(policies);
    throw new Error(
      `${where}: host policy '${policyName}' is not defined (${known.length === 0 ? "the server has none" : `defined: ${known.join(", ")}`}); start the server with --host-policy ${policyName},cpu-cores=LIST`,
    );
  }
  return policy.cpuCores;
}
