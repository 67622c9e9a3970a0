#!/usr/bin/env bash
# Builds, from Debian's packages, the base images deploy/Dockerfile and deploy/compose.yaml need
# where the official images cannot be pulled (as on the test machine). Each is equivalent to the
# official image it stands in for:
#
#   accord-base/debian:bookworm-slim  debian:bookworm-slim  debootstrap --variant=minbase bookworm
#   accord-base/rust:bookworm         rust:1.95-bookworm    the above + gcc, libc6-dev, pkg-config and
#                                                           this machine's Rust toolchain, laid out
#                                                           as in the official image, trusting the
#                                                           extra CA certificates this machine trusts
#   accord-base/postgres:15           postgres:15-bookworm  Debian's postgresql-15, with an entry point
#                                                           that honours POSTGRES_USER/PASSWORD/DB
#   accord-base/nginx:bookworm        nginx (bookworm)      Debian's nginx, in the foreground
#
# Images that exist already are kept (pass --force to rebuild). Prints the variables that point
# deploy/compose.yaml and deploy/Dockerfile at these images; `source <(deploy/images/build-bases.sh --env)`
# sets them in the calling shell. Needs root (debootstrap), docker and Debian's debootstrap package
# (installed with apt-get if missing).
#
#   --no-rust   skip the build base (not needed to build the image from prebuilt binaries,
#               `--build-arg PREBUILT=1`, see deploy/Dockerfile)
#   --no-nginx  skip nginx (compose needs it; the container test does not)
#   ACCORD_BASE_PREFIX=name  names the images name/debian:…, name/rust:… etc. instead of
#               accord-base/…; the container test uses a prefix unique to its run and removes the
#               images afterwards
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
force=0
env_only=0
rust_too=1
nginx_too=1
prefix="${ACCORD_BASE_PREFIX:-accord-base}"
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --env) env_only=1 ;;
    --no-rust) rust_too=0 ;;
    --no-nginx) nginx_too=0 ;;
    *) echo "usage: $0 [--force] [--env] [--no-rust] [--no-nginx]" >&2; exit 2 ;;
  esac
done

print_env() {
  if [[ $rust_too == 1 ]]; then echo "export ACCORD_RUST_IMAGE=$rust"; fi
  cat <<VARS
export ACCORD_RUNTIME_IMAGE=$debian
export ACCORD_POSTGRES_IMAGE=$postgres
VARS
  if [[ $nginx_too == 1 ]]; then echo "export ACCORD_NGINX_IMAGE=$nginx"; fi
}

have() { [[ $force == 0 ]] && docker image inspect "$1" >/dev/null 2>&1; }
log() { echo "build-bases: $*" >&2; }

debian="$prefix/debian:bookworm-slim"
rust="$prefix/rust:bookworm"
postgres="$prefix/postgres:15"
nginx="$prefix/nginx:bookworm"
if ! have "$debian"; then
  command -v debootstrap >/dev/null 2>&1 || {
    log "installing debootstrap"
    apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null
  }
  rootfs="$(mktemp -d /tmp/accord-rootfs.XXXXXX)"
  trap 'rm -rf "$rootfs"' EXIT
  log "debootstrap bookworm (minbase) into $rootfs"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" \
    http://deb.debian.org/debian >"$rootfs.log" 2>&1 || { cat "$rootfs.log" >&2; exit 1; }
  rm -f "$rootfs.log"
  # As slim as the official slim image: no package lists, no docs, no caches.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
         "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
  log "importing $debian"
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - "$debian" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
fi

if [[ $rust_too == 1 ]] && ! have "$rust"; then
  sysroot="$(rustc --print sysroot)"
  context="$(mktemp -d /tmp/accord-rust-base.XXXXXX)"
  trap 'rm -rf "$context"' EXIT
  log "copying the Rust toolchain $(rustc --version) from $sysroot"
  mkdir -p "$context/toolchain"
  for part in bin lib libexec etc; do
    [[ -e "$sysroot/$part" ]] && cp -a "$sysroot/$part" "$context/toolchain/"
  done
  # The build fetches crates: it trusts the extra CA certificates this machine trusts (a
  # TLS-inspecting egress proxy, for example), as the machine's own cargo does.
  mkdir -p "$context/extra-ca"
  cp /usr/local/share/ca-certificates/*.crt "$context/extra-ca/" 2>/dev/null || true
  cp "$here/rust/Dockerfile" "$context/Dockerfile"
  log "building $rust"
  docker build -q --build-arg BASE="$debian" -t "$rust" "$context" >/dev/null
  rm -rf "$context"
  trap - EXIT
fi

if ! have "$postgres"; then
  log "building $postgres"
  docker build -q --build-arg BASE="$debian" -t "$postgres" "$here/postgres" >/dev/null
fi

if [[ $nginx_too == 1 ]] && ! have "$nginx"; then
  log "building $nginx"
  docker build -q --build-arg BASE="$debian" -t "$nginx" "$here/nginx" >/dev/null
fi

if [[ $env_only == 1 ]]; then print_env; else log "done; point compose at them with:"; print_env >&2; fi
