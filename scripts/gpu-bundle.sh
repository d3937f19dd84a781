#!/usr/bin/env bash
# Packs what a GPU machine lent by the workplace's `device` tool needs to build and test the CUDA backend.
# That machine has nvcc and a GPU but no Node.js and no network, and a call carries at most 64 MiB, so this
# writes .gpu/ (git-excluded): node.xz (the Node binary this checkout uses) and tree.tar.xz (node_modules,
# pnpm, the built packages). scripts/gpu-check.sh unpacks them there. Use (from the agent, not a shell):
#   run(command: "bash scripts/gpu-check.sh", carry: [".gpu"], timeout_s: 600)
# then copy the files it returns into bench/results/ with the machine they ran on.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
iaas_setup
cd "$IAAS_ROOT"

grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude
rm -rf .gpu
mkdir -p .gpu
xz -T0 -6 -c "$IAAS_NODE" >.gpu/node.xz
# Everything the device side's `./iaas` set-up would otherwise fetch or rebuild: with the install stamp and
# the TypeScript build info it only rebuilds the addon (its toolchain now includes nvcc).
paths=(node_modules .tools/pnpm)
for p in packages/*/node_modules packages/*/dist packages/*/tsconfig.tsbuildinfo bench/node_modules examples/node_modules test/node_modules; do
  [ -e "$p" ] && paths+=("$p")
done
tar -cf - "${paths[@]}" | xz -T0 -6 >.gpu/tree.tar.xz
tree_bytes=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
gpu_bytes=$(du -cb .gpu/* | tail -1 | cut -f1)
total=$((tree_bytes + gpu_bytes))
printf '[gpu-bundle] .gpu %s MiB + tracked files %s MiB = %s MiB (the device tool carries at most 64)\n' \
  $((gpu_bytes >> 20)) $((tree_bytes >> 20)) $((total >> 20)) >&2
[ "$total" -lt $((64 << 20)) ] || iaas_die "the bundle and the tree exceed 64 MiB"
