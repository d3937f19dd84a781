#!/usr/bin/env bash
# Runs on a GPU machine lent by the workplace's `device` tool, over a checkout that carries .gpu/ (made by
# scripts/gpu-bundle.sh): unpacks Node and the installed tree, builds the addon with nvcc, then
#   1. the server package's tests (there the CUDA kernels, KIND_GPU instances bound to their GPU and the
#      nv_gpu_* metrics run; tests whose Debian peers are missing on that machine say so and skip),
#   2. dense_mlp on the GPU (KIND_AUTO) and, with CUDA_VISIBLE_DEVICES empty, on the CPU: iaas bench
#      concurrency sweeps at 1 and 64 rows per request, and an instance-count sweep on the GPU.
# Logs and results go to $OUT (the device tool brings that folder back, at most 8 files: here 7), one line
# per step with its exit status at the end of machine.txt. Every step runs even when one before it failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="${OUT:-/tmp/iaas-gpu-out}"
mkdir -p "$out"
summary="$out/summary.tmp"
: >"$summary"
step() {
  local name="$1"
  shift
  local t0=$SECONDS
  "$@"
  local rc=$?
  printf '%-28s rc=%s %ss\n' "$name" "$rc" $((SECONDS - t0)) >>"$summary"
}

[ -f .gpu/node.xz ] && [ -f .gpu/tree.tar.xz ] || { echo "gpu-check: .gpu/ is missing: run scripts/gpu-bundle.sh here and carry .gpu" >&2; exit 2; }
mkdir -p .tools/node_modules/node/bin
if command -v xz >/dev/null; then
  xz -dc .gpu/node.xz >.tools/node_modules/node/bin/node && tar -xJf .gpu/tree.tar.xz
else
  # A minimal image may lack the xz tool; its Python has lzma (the CUDA image's python3 does).
  python3 -c 'import lzma, shutil, sys, tarfile
shutil.copyfileobj(lzma.open(".gpu/node.xz"), open(".tools/node_modules/node/bin/node", "wb"))
tarfile.open(".gpu/tree.tar.xz", "r:xz").extractall(".")'
fi || { echo "gpu-check: could not unpack .gpu/" >&2; exit 2; }
chmod +x .tools/node_modules/node/bin/node
export IAAS_NODE="$PWD/.tools/node_modules/node/bin/node" IAAS_SKIP_APT=1 PATH="$PWD/.tools/node_modules/node/bin:$PATH"

{ nvidia-smi; nvcc --version; nproc; free -g; } >"$out/machine.txt" 2>&1
# The set-up builds the addon again: nvcc is on this machine, so with the CUDA kernels (cudart static).
step setup ./iaas --version >"$out/bench.log" 2>&1
step backend-info node -e 'import("./packages/server-native/dist/index.js").then((m) => console.log(JSON.stringify(m.backendInfo(), null, 1)))' >>"$out/machine.txt" 2>&1
step server-tests node --test --test-concurrency=8 --test-timeout=300000 packages/server-native/test/*.test.ts >"$out/server-tests.log" 2>&1
# At most 4 windows of 2 s per level: the four sweeps end within about 5 minutes, well inside one call.
bench=(./iaas bench -m dense_mlp --warmup-ms 1000 -p 2000 -r 4)
step gpu-rows64 "${bench[@]}" -b 64 -c 1..64 --json "$out/gpu-dense-b64.json" >>"$out/bench.log" 2>&1
step gpu-rows1 "${bench[@]}" -b 1 -c 1..64 --json "$out/gpu-dense-b1.json" >>"$out/bench.log" 2>&1
step gpu-instances "${bench[@]}" -b 64 -c 8..32 --instances 1..2 --json "$out/gpu-dense-instances.json" >>"$out/bench.log" 2>&1
step cpu-rows64 env CUDA_VISIBLE_DEVICES= "${bench[@]}" -b 64 -c 1..64 --json "$out/cpu-dense-b64.json" >>"$out/bench.log" 2>&1
{ echo "== steps"; cat "$summary"; } | tee -a "$out/machine.txt"
rm -f "$summary"
