#!/usr/bin/env bash
# Build the runtime image miniyarn:latest with no container registry.
#
#   bash images/build.sh                 # base = miniyarn-base:local (made by debootstrap if missing)
#   BASE=python:3.11-slim-bookworm bash images/build.sh   # where a registry serves stock images
#   bash images/build.sh --rebuild-base  # remake miniyarn-base:local (e.g. for Debian updates)
#
# Steps, each skipped when its result is already there: (1) the base image, from
# `debootstrap --variant=minbase bookworm` with the mirror read from this machine's apt sources,
# `docker import`ed as miniyarn-base:local; (2) wheels of the project's dependencies, built on the
# host into images/wheels/deps (the image build has no package index); (3) the project's own wheel,
# reproducible (SOURCE_DATE_EPOCH) so an unchanged tree hits the build cache; (4) `docker build`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGES="$ROOT/images"
LOCAL_BASE="miniyarn-base:local"
BASE="${BASE:-$LOCAL_BASE}"
TAG="${MINIYARN_IMAGE:-miniyarn:latest}"
SUITE="bookworm"
PY="${PYTHON:-python3}"
[ -x "$ROOT/.venv/bin/python" ] && PY="$ROOT/.venv/bin/python"
REBUILD_BASE=0
for arg in "$@"; do
  case "$arg" in
    --rebuild-base) REBUILD_BASE=1 ;;
    -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "build.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

log() { printf '==> %s\n' "$*"; }
now() { date +%s.%N; }

# The Debian mirror this machine's apt uses for $SUITE (never written into the repo).
apt_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822: blank-line separated stanzas with URIs: and Suites: fields.
    awk -v suite="$SUITE" '
      /^[[:space:]]*#/ { next }
      /^[[:space:]]*$/ { if (uris != "" && ok) { print uris; exit } uris=""; ok=0; next }
      tolower($1) == "uris:" { uris=$2 }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) ok=1 }
      END { if (uris != "" && ok) print uris }' "$f" | head -n1
  done | head -n1 | grep . && return 0
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '$1 == "deb" { u=$2; s=$3; if ($2 ~ /^\[/) { for (i = 2; i <= NF; i++) if ($i ~ /\]$/) break; u=$(i+1); s=$(i+2) }
                                          if (s == suite) { print u; exit } }' "$f"
  done | head -n1 | grep .
}

make_local_base() {
  command -v debootstrap >/dev/null || { echo "build.sh: debootstrap is missing (apt-get install -y debootstrap)" >&2; exit 1; }
  local mirror rootfs t0
  mirror="$(apt_mirror)" || { echo "build.sh: no '$SUITE' source in /etc/apt/sources.list*; set BASE= to a stock image" >&2; exit 1; }
  rootfs="$(mktemp -d /tmp/miniyarn-rootfs.XXXXXX)"
  trap 'rm -rf "$rootfs"' EXIT
  log "debootstrap --variant=minbase $SUITE (the machine's own apt mirror)"
  t0=$(now)
  local keyring=()
  [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] && keyring=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
  debootstrap --variant=minbase "${keyring[@]}" \
    --include=python3,python3-venv,redis-server,ca-certificates,procps \
    "$SUITE" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || { tail -n 30 "$rootfs.log" >&2; exit 1; }
  rm -f "$rootfs.log"
  # No apt inside: the image is rebuilt from the host, so drop lists, caches and the mirror's name.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/etc/apt/sources.list \
    "$rootfs"/etc/apt/sources.list.d/*
  tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' \
    --change 'LABEL miniyarn.image=base' - "$LOCAL_BASE" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
  log "made $LOCAL_BASE in $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }') s"
}

# pip on the host evaluates markers with the host's python (3.11.7 skips redis's async-timeout, which
# 3.11.2 needs): resolve inside the base image, offline, and wheel on the host whatever it misses.
complete_for_base() {
  local deps="$1" out missing i
  for i in 1 2 3 4 5 6; do
    out="$(docker run --rm --network none -v "$IMAGES/wheels:/w:ro" "$BASE" sh -c \
      'python3 -m venv /tmp/v >/dev/null && /tmp/v/bin/pip install --dry-run -q --no-index --disable-pip-version-check --find-links /w/deps --find-links /w/project miniyarn 2>&1')" && return 0
    missing="$(printf '%s\n' "$out" | sed -n 's/.*No matching distribution found for \([^;]*\).*/\1/p' | head -n1)"
    [ -n "$missing" ] || { printf '%s\n' "$out" >&2; return 1; }
    log "pip wheel: $missing (needed by the base image's python)"
    "$PY" -m pip wheel -qq --wheel-dir "$deps" "$missing"
  done
  return 1
}

build_wheels() {
  local deps="$IMAGES/wheels/deps" project="$IMAGES/wheels/project" stamp want
  mkdir -p "$deps" "$project"
  log "pip wheel: miniyarn into images/wheels/project"
  rm -f "$project"/*.whl
  # A fixed timestamp makes the wheel byte-identical for an unchanged tree, so docker reuses its layer.
  SOURCE_DATE_EPOCH="$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 315532800)" \
    "$PY" -m pip wheel -qq --no-deps --wheel-dir "$project" "$ROOT"
  rm -rf "$ROOT/build"
  ls "$project"/miniyarn-*.whl >/dev/null
  # The dependency set is fixed by pyproject.toml's dependencies and the base's python: rebuild only
  # when either changes.
  want="$( (sed -n '/^dependencies = \[/,/^\]/p' "$ROOT/pyproject.toml"; docker image inspect -f '{{.Id}}' "$BASE" 2>/dev/null) \
    | sha256sum | cut -c1-16)"
  stamp="$deps/.stamp"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "pip wheel: dependencies into images/wheels/deps"
    rm -f "$deps"/*.whl "$stamp"
    "$PY" -m pip wheel -qq --wheel-dir "$deps" "$ROOT"
    rm -f "$deps"/miniyarn-*.whl
    rm -rf "$ROOT/build"
    if docker image inspect "$BASE" >/dev/null 2>&1; then
      complete_for_base "$deps"
    fi
    echo "$want" >"$stamp"
  fi
}

T0=$(now)
command -v docker >/dev/null || { echo "build.sh: docker is missing (apt-get install -y docker.io)" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "build.sh: no Docker daemon answers (start dockerd)" >&2; exit 1; }
if [ "$BASE" = "$LOCAL_BASE" ]; then
  if [ "$REBUILD_BASE" = 1 ] || ! docker image inspect "$LOCAL_BASE" >/dev/null 2>&1; then
    make_local_base
  else
    log "base $LOCAL_BASE exists"
  fi
fi
build_wheels
log "docker build -t $TAG (BASE=$BASE)"
# DOCKER_BUILDKIT=0: the classic builder needs no frontend image from a registry.
DOCKER_BUILDKIT=0 docker build -qq --build-arg "BASE=$BASE" -t "$TAG" "$IMAGES" >/dev/null
# The images a rebuild replaced (untagged now): only ours, never anyone else's.
docker image prune -f --filter label=miniyarn.image >/dev/null
log "built $TAG in $(awk -v a="$T0" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }') s"
