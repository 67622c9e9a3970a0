#!/usr/bin/env bash
# The container test (deploy/tests/test_containers.py): builds the image from deploy/Dockerfile,
# then runs PostgreSQL and three replicas on a private Docker network and drives them with the
# Python grpcio client (kill one replica under load; a rolling restart). Run by .ci/run after
# scripts/test.
#
# Image: by default from the binaries the host built (`cargo build --workspace`, target/debug),
# staged by deploy/stage-prebuilt.sh and copied in with `--build-arg PREBUILT=1` — seconds instead
# of a release build. ACCORD_IMAGE_BUILD=source compiles a release build inside the image instead
# (the default of deploy/Dockerfile; tens of minutes on two cores).
#
# Base images: the official ones (debian slim, postgres; rust for a source build) when they can be pulled;
# otherwise equivalents built from Debian's packages by deploy/images/build-bases.sh. Set
# ACCORD_BASES=official or ACCORD_BASES=local to choose.
#
# Everything this run creates (containers, network, volumes, images, base images) is named with a
# prefix unique to the run and removed when it ends, however it ends; nothing is cached, so a run
# costs what it costs on a fresh CI machine. To reuse local base images between runs while
# working on the test, set ACCORD_BASE_PREFIX (e.g. accord-base): those are built once and kept.
set -euo pipefail
cd "$(dirname "$0")/../.."

started=$SECONDS
prefix="accord-ct-$(date +%s)-$$"
export ACCORD_TEST_PREFIX="$prefix"
export ACCORD_IMAGE="${ACCORD_IMAGE:-$prefix/accord:test}"
build="${ACCORD_IMAGE_BUILD:-prebuilt}"
keep_bases=0
if [[ -n "${ACCORD_BASE_PREFIX:-}" ]]; then keep_bases=1; else export ACCORD_BASE_PREFIX="$prefix-base"; fi

mkdir -p target
rm -f target/docker-build.log   # cleanup() removes the images the log of this run names

cleanup() {
  local status=$?
  set +e
  docker ps -aq --filter "name=^/$prefix-" | xargs -r docker rm -f -v >/dev/null
  docker network ls -q --filter "name=^$prefix-" | xargs -r docker network rm >/dev/null
  docker volume ls -q --filter "name=^$prefix-" | xargs -r docker volume rm >/dev/null
  local images
  if [[ $keep_bases == 1 ]]; then
    images="$(docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$prefix/")"
  else
    images="$(docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$prefix[-/]")"
  fi
  [[ -n "$images" ]] && docker rmi -f $images >/dev/null
  # The classic builder keeps the build stage's result as an untagged image: remove every
  # image this build made (newest first; `docker rmi` without -f leaves any still in use).
  if [[ -f target/docker-build.log ]]; then
    grep -oE '^ ---> [0-9a-f]{12}$' target/docker-build.log | awk '{print $2}' | tac \
      | xargs -r docker rmi >/dev/null 2>&1
  fi
  rm -rf deploy/prebuilt
  echo "==> container test: cleaned up; $((SECONDS - started)) s in all" >&2
  exit $status
}
trap cleanup EXIT
trap "exit 130" INT
trap "exit 143" TERM   # so that cleanup runs when CI stops the run, too

bases="${ACCORD_BASES:-}"
if [[ -z "$bases" ]]; then
  if timeout 20 docker pull -q debian:bookworm-slim >/dev/null 2>&1; then bases=official; else bases=local; fi
fi
if [[ "$bases" == local ]]; then
  echo "==> base images from Debian's packages (deploy/images/build-bases.sh, prefix $ACCORD_BASE_PREFIX)"
  t=$SECONDS
  flags=(--env --no-nginx)
  [[ "$build" == source ]] || flags+=(--no-rust)
  envfile="$(mktemp)"
  deploy/images/build-bases.sh "${flags[@]}" >"$envfile"   # fails the run if a base fails
  source "$envfile"
  rm -f "$envfile"
  echo "    base images: $((SECONDS - t)) s"
else
  export ACCORD_RUST_IMAGE=rust:1.95-bookworm ACCORD_RUNTIME_IMAGE=debian:bookworm-slim
  export ACCORD_POSTGRES_IMAGE=postgres:15-bookworm
fi

t=$SECONDS
if [[ "$build" == prebuilt ]]; then
  echo "==> docker build -f deploy/Dockerfile --build-arg PREBUILT=1 -t $ACCORD_IMAGE (binaries from target/debug)"
  deploy/stage-prebuilt.sh target/debug
  args=(--build-arg PREBUILT=1 --build-arg RUNTIME_IMAGE="$ACCORD_RUNTIME_IMAGE" deploy/prebuilt)
else
  echo "==> docker build -f deploy/Dockerfile -t $ACCORD_IMAGE (release build in $ACCORD_RUST_IMAGE)"
  args=(--build-arg RUST_IMAGE="$ACCORD_RUST_IMAGE" --build-arg RUNTIME_IMAGE="$ACCORD_RUNTIME_IMAGE" .)
fi
if ! docker build --force-rm -f deploy/Dockerfile -t "$ACCORD_IMAGE" "${args[@]}" \
    >target/docker-build.log 2>&1; then
  tail -n 60 target/docker-build.log >&2
  exit 1
fi
docker run --rm --entrypoint sh "$ACCORD_IMAGE" -c \
  'id -u | grep -qx 10001 && ls /usr/local/lib/accord/plugins/*.so && accord-server --version'
echo "    image: $((SECONDS - t)) s"

echo "==> container test (PostgreSQL + 3 replicas on a private network, Python client)"
t=$SECONDS
status=0
ACCORD_PY_TESTS=deploy/tests clients/python/run_tests.sh -v "$@" || status=$?
echo "    tests: $((SECONDS - t)) s"
exit $status
