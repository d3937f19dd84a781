# Debian packages the test suite starts or calls as real peers; sourced by ./run-tests.
# Installs only what is missing, and only when we are root with apt-get (CI, fresh machines).
# Set IAAS_SKIP_APT=1 to never touch apt.

iaas_install_test_deps() {
  local missing=()
  /usr/bin/python3 -c 'import grpc, google.protobuf' 2>/dev/null || missing+=(python3-grpcio python3-protobuf)
  command -v protoc >/dev/null || missing+=(protobuf-compiler)
  # TLS tests generate a throwaway CA and certificates with the openssl CLI.
  command -v openssl >/dev/null || missing+=(openssl)
  # The metrics test has a real Prometheus scrape the server's /metrics port.
  command -v prometheus >/dev/null || missing+=(prometheus)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "${IAAS_SKIP_APT:-0}" = 1 ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    iaas_log "test peers missing (${missing[*]}); tests that need them will say so"
    return 0
  fi
  iaas_log "installing test peers with apt-get: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || iaas_log "apt-get update failed; trying the install anyway"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || iaas_die "apt-get install ${missing[*]} failed"
}
