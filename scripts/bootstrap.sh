# Shared set-up for ./iaas and ./run-tests; sourced, not executed.
# Brings the checkout to a runnable state, doing only the steps that are out of date:
#   1. a Node.js >= 22.19 (Node 24 from the npm registry when the system one is older),
#   2. pnpm and the workspace dependencies (from the lockfile),
#   3. the TypeScript build (tsc -b is incremental),
#   4. the native addon (CUDA kernels too when nvcc is present).
# Exports IAAS_NODE (the node binary to use) and puts it first on PATH.

IAAS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IAAS_NODE_VERSION="${IAAS_NODE_VERSION:-24.21.0}"
IAAS_PNPM_VERSION="10.34.9"
IAAS_TOOLS="$IAAS_ROOT/.tools"

iaas_log() { printf '[iaas setup] %s\n' "$*" >&2; }
iaas_die() { printf '[iaas setup] error: %s\n' "$*" >&2; exit 1; }

iaas_node_ok() {
  # true when $1 is a node binary of at least 22.19
  "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=19)?0:1)' 2>/dev/null
}

iaas_setup() {
  mkdir -p "$IAAS_TOOLS"
  # One set-up at a time: parallel launches wait here instead of racing on node_modules.
  exec 9>"$IAAS_TOOLS/.lock"
  flock 9

  local tools_node="$IAAS_TOOLS/node_modules/node/bin/node"
  if [ -n "${IAAS_NODE:-}" ] && iaas_node_ok "$IAAS_NODE"; then :
  elif command -v node >/dev/null && iaas_node_ok "$(command -v node)"; then IAAS_NODE="$(command -v node)"
  elif [ -x "$tools_node" ] && iaas_node_ok "$tools_node"; then IAAS_NODE="$tools_node"
  else
    command -v npm >/dev/null || iaas_die "no Node.js >= 22.19 and no npm to fetch one with; install npm (apt-get install npm)"
    iaas_log "system Node is $(node -v 2>/dev/null || echo absent); fetching Node $IAAS_NODE_VERSION from the npm registry into .tools/"
    (cd "$IAAS_TOOLS" && npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$IAAS_TOOLS" \
        "node@$IAAS_NODE_VERSION" >&2) || iaas_die "npm install node@$IAAS_NODE_VERSION failed"
    [ -x "$tools_node" ] && iaas_node_ok "$tools_node" || iaas_die "the fetched Node at $tools_node does not run"
    IAAS_NODE="$tools_node"
  fi
  export IAAS_NODE
  export PATH="$(dirname "$IAAS_NODE"):$PATH"

  local pnpm_js="$IAAS_TOOLS/pnpm/node_modules/pnpm/bin/pnpm.cjs"
  if [ ! -f "$pnpm_js" ]; then
    iaas_log "fetching pnpm $IAAS_PNPM_VERSION"
    mkdir -p "$IAAS_TOOLS/pnpm"
    (cd "$IAAS_TOOLS/pnpm" && npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$IAAS_TOOLS/pnpm" \
        "pnpm@$IAAS_PNPM_VERSION" >&2) || iaas_die "npm install pnpm@$IAAS_PNPM_VERSION failed"
  fi
  iaas_pnpm() { "$IAAS_NODE" "$pnpm_js" "$@"; }

  # Dependencies: reinstall when the lockfile or a manifest changed since the last install.
  local stamp_file="$IAAS_ROOT/node_modules/.iaas-install-stamp"
  local stamp
  stamp="$(cd "$IAAS_ROOT" && cat pnpm-lock.yaml pnpm-workspace.yaml package.json packages/*/package.json bench/package.json examples/package.json test/package.json 2>/dev/null | sha256sum | cut -c1-16)-$("$IAAS_NODE" -v)"
  if [ "$(cat "$stamp_file" 2>/dev/null)" != "$stamp" ]; then
    iaas_log "installing dependencies with pnpm"
    local frozen="--frozen-lockfile"
    [ -f "$IAAS_ROOT/pnpm-lock.yaml" ] || frozen=""
    (cd "$IAAS_ROOT" && iaas_pnpm install $frozen --reporter=append-only >&2) || iaas_die "pnpm install failed"
    echo "$stamp" >"$stamp_file"
  fi

  (cd "$IAAS_ROOT" && "$IAAS_NODE" node_modules/typescript/bin/tsc -b >&2) || iaas_die "TypeScript build failed (tsc -b)"
  if ! command -v g++ >/dev/null; then
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || iaas_die "g++ is needed to build the native addon (apt-get install g++)"
    iaas_log "installing g++ with apt-get (needed for the native addon)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++) >&2 || iaas_die "apt-get install g++ failed"
  fi
  (cd "$IAAS_ROOT" && "$IAAS_NODE" packages/server-native/scripts/build-addon.mjs --if-needed >&2) || iaas_die "native addon build failed"
  (cd "$IAAS_ROOT" && "$IAAS_NODE" packages/client/scripts/build-shm-addon.mjs --if-needed >&2) || iaas_die "client shared-memory addon build failed"

  flock -u 9
}
