#!/usr/bin/env bash
# The container test (deploy/tests/test_containers.py): builds the image from deploy/Dockerfile,
# then runs PostgreSQL, three replicas and nginx on a private Docker network and drives them with
# the Python grpcio client (kill one replica under load; a rolling restart). Run by .ci/run.
#
# Base images: the official ones (rust, debian slim, postgres, nginx) when they can be pulled;
# otherwise equivalents built from Debian's packages by deploy/images/build-bases.sh. Set
# ACCORD_BASES=official or ACCORD_BASES=local to choose.
set -euo pipefail
cd "$(dirname "$0")/../.."

bases="${ACCORD_BASES:-}"
if [[ -z "$bases" ]]; then
  if timeout 30 docker pull -q debian:bookworm-slim >/dev/null 2>&1; then bases=official; else bases=local; fi
fi
if [[ "$bases" == local ]]; then
  echo "==> base images from Debian's packages (deploy/images/build-bases.sh)"
  source <(deploy/images/build-bases.sh --env)
else
  export ACCORD_RUST_IMAGE=rust:1.95-bookworm ACCORD_RUNTIME_IMAGE=debian:bookworm-slim
  export ACCORD_POSTGRES_IMAGE=postgres:15-bookworm ACCORD_NGINX_IMAGE=nginx:1.27-bookworm
fi

export ACCORD_IMAGE="${ACCORD_IMAGE:-accord:test}"
echo "==> docker build -f deploy/Dockerfile -t $ACCORD_IMAGE (build base $ACCORD_RUST_IMAGE)"
mkdir -p target
if ! docker build -f deploy/Dockerfile \
    --build-arg RUST_IMAGE="$ACCORD_RUST_IMAGE" \
    --build-arg RUNTIME_IMAGE="$ACCORD_RUNTIME_IMAGE" \
    -t "$ACCORD_IMAGE" . >target/docker-build.log 2>&1; then
  tail -n 60 target/docker-build.log >&2
  exit 1
fi
docker run --rm --entrypoint sh "$ACCORD_IMAGE" -c \
  'id -u | grep -qx 10001 && ls /usr/local/lib/accord/plugins/*.so && accord-server --version'

echo "==> container test (PostgreSQL + 3 replicas + nginx, Python client)"
ACCORD_PY_TESTS=deploy/tests exec clients/python/run_tests.sh -v "$@"
