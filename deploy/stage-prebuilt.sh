#!/usr/bin/env bash
# Stages binaries the host has built already (accord-server, the accord CLI and the four bundled
# policy libraries) into deploy/prebuilt/, the build context of `docker build --build-arg PREBUILT=1`
# (deploy/Dockerfile). Debug information is stripped so the context stays small.
#
#   deploy/stage-prebuilt.sh [PROFILE_DIR]     PROFILE_DIR defaults to target/debug
#
# The host's glibc must be no newer than the runtime image's (Debian 12 bookworm: 2.36).
set -euo pipefail
cd "$(dirname "$0")/.."
from="${1:-target/debug}"
out=deploy/prebuilt
rm -rf "$out"
mkdir -p "$out"
for file in accord-server accord accord-policy-runner libaccord_unanimity.so libaccord_weighted.so libaccord_pressure.so \
            libaccord_bargaining.so; do
  [[ -f "$from/$file" ]] || { echo "stage-prebuilt: $from/$file is missing (cargo build --workspace)" >&2; exit 1; }
  objcopy --strip-debug "$from/$file" "$out/$file"
done
du -sh "$out" | sed 's/^/stage-prebuilt: /' >&2
