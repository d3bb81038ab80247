#!/usr/bin/env bash
# Build the runtime image miniyarn:latest with no container registry.
#
#   bash images/build.sh                 # base = miniyarn-base:local (made by debootstrap if missing)
#   BASE=python:3.11-slim-bookworm bash images/build.sh   # where a registry serves stock images
#   bash images/build.sh --rebuild-base  # remake miniyarn-base:local (e.g. for Debian updates)
#
# Steps, each skipped when its result is already there: (1) the base image, from
# `debootstrap --variant=minbase bookworm` with the mirror read from this machine's apt sources,
# `docker import`ed as miniyarn-base:local; (2) wheels of the project's dependencies for the base
# image's interpreter (asked of the base: its Python version and platform tags), downloaded by the
# host's pip into images/wheels/deps, so any host Python 3.9+ will do (the image build has no package
# index); (3) the project's own wheel (pure Python), reproducible (SOURCE_DATE_EPOCH) so an unchanged
# tree hits the build cache; (4) `docker build`, with BuildKit where the engine has it (quiet), else
# the classic builder. A step that fails says which, and why.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGES="$ROOT/images"
LOCAL_BASE="miniyarn-base:local"
BASE="${BASE:-$LOCAL_BASE}"
TAG="${MINIYARN_IMAGE:-miniyarn:latest}"
SUITE="bookworm"
# Any Python 3.9+ on the host: $PYTHON, else the project's venv, else python3.
PY="${PYTHON:-}"
[ -z "$PY" ] && [ -x "$ROOT/.venv/bin/python" ] && PY="$ROOT/.venv/bin/python"
PY="${PY:-python3}"
REBUILD_BASE=0
for arg in "$@"; do
  case "$arg" in
    --rebuild-base) REBUILD_BASE=1 ;;
    -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "build.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

log() { printf '==> %s\n' "$*"; }
now() { "$PY" -c 'import time; print(time.time())'; }  # date +%N is GNU only
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }

# Run a step quietly; if it fails, say which step, show the end of its output and exit.
step() {
  local what="$1" out rc=0
  shift
  out="$("$@" 2>&1)" || rc=$?
  if [ "$rc" != 0 ]; then
    printf '%s\n' "$out" | tail -n 25 >&2
    die "$what failed (exit $rc): $*"
  fi
}

# Whatever else fails unexpectedly says where, instead of set -e's silent exit.
set -E
trap 'rc=$?; printf "build.sh: failed (exit %s) at line %s: %s\n" "$rc" "$LINENO" "$BASH_COMMAND" >&2; exit "$rc"' ERR

"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' 2>/dev/null \
  || die "$PY is not Python 3.9 or newer (set PYTHON=python3.X): it only downloads wheels and builds the project's"
"$PY" -m pip --version >/dev/null 2>&1 || die "$PY has no pip (python3 -m ensurepip, or apt-get install python3-pip)"

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

# The base image's interpreter, as pip's download options: `<X.Y.Z> <abi> <platform>...`, the platforms
# from its own pip's compatible tags (manylinux_2_36_x86_64 ... linux_x86_64 on bookworm/amd64). The
# host's Python (any 3.9+, any platform) never decides which wheels the image gets.
base_python() {
  docker run --rm --network none "$BASE" sh -c \
    'python3 -m venv /tmp/v >/dev/null && /tmp/v/bin/python -c "import platform, sys; v = sys.version_info; print(platform.python_version(), f\"cp{v[0]}{v[1]}\")" \
     && /tmp/v/bin/pip debug --verbose 2>/dev/null | sed -n "s/^ *cp[0-9]*-cp[0-9]*-\(.*\)$/\1/p" | sort -u | tr "\n" " "'
}

# The dependencies pyproject.toml lists, one requirement a line.
requirements() {
  sed -n '/^dependencies = \[/,/^\]/p' "$ROOT/pyproject.toml" | sed -n 's/^ *"\([^"]*\)",\{0,1\}$/\1/p'
}

# The base's interpreter as pip download's target options (set by download_deps).
TARGET=()

# Wheels of the given requirements (and their dependencies) for the image's interpreter.
fetch_for_base() {
  local what="$1"
  shift
  step "pip download of $what for the image's CPython (a wheel missing from the index for it?)" \
    "$PY" -m pip download -q --disable-pip-version-check --only-binary=:all: --dest "$IMAGES/wheels/deps" \
      "${TARGET[@]}" "$@"
}

download_deps() {
  local info version abi plat p reqs=() r out missing i
  info="$(base_python | tr '\n' ' ')" || die "cannot run python3 in the base image $BASE (docker run failed)"
  read -r version abi plat <<<"$info" || true
  [ -n "$version" ] && [ -n "$abi" ] && [ -n "$plat" ] || die "the base image $BASE did not say its Python version and platform (got: '$info')"
  TARGET=(--implementation cp --python-version "$version" --abi "$abi" --abi abi3 --abi none)
  for p in $plat; do TARGET+=(--platform "$p"); done
  while IFS= read -r r; do reqs+=("$r"); done < <(requirements)  # bash 3 (macOS) has no mapfile
  [ "${#reqs[@]}" -gt 0 ] || die "no dependencies found in pyproject.toml's dependencies = [...]"
  log "pip download: dependencies for the image's CPython $version ($abi) into images/wheels/deps"
  fetch_for_base "the dependencies" "${reqs[@]}"
  # pip evaluates environment markers with the host's interpreter even for another target (redis needs
  # async-timeout only below Python 3.11.3): ask the base itself, offline, what is still missing.
  for i in 1 2 3 4 5 6 7 8; do
    out="$(install_dry_run)" && return 0
    missing="$(printf '%s\n' "$out" | sed -n 's/.*No matching distribution found for \([^;]*\).*/\1/p' | head -n1)"
    if [ -z "$missing" ]; then
      printf '%s\n' "$out" | tail -n 15 >&2
      die "the base image's Python cannot install miniyarn from images/wheels (above)"
    fi
    log "pip download: $missing (the image's Python $version needs it, the host's markers skipped it)"
    fetch_for_base "$missing" "$missing"
  done
  die "the base image's Python still misses wheels after 8 rounds: $missing"
}

# Offline, inside the base: can its Python install miniyarn from exactly these wheels? (pip's output)
install_dry_run() {
  docker run --rm --network none -v "$IMAGES/wheels:/w:ro" "$BASE" sh -c \
    'python3 -m venv /tmp/v >/dev/null && /tmp/v/bin/pip install --dry-run -q --no-index --disable-pip-version-check --find-links /w/deps --find-links /w/project miniyarn 2>&1'
}

build_wheels() {
  local deps="$IMAGES/wheels/deps" project="$IMAGES/wheels/project" stamp want
  mkdir -p "$deps" "$project"
  log "pip wheel: miniyarn into images/wheels/project"
  rm -f "$project"/*.whl
  # A fixed timestamp makes the wheel byte-identical for an unchanged tree, so docker reuses its layer.
  # Pure Python: built by any host Python; requires-python is the image's to satisfy, checked below.
  SOURCE_DATE_EPOCH="$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 315532800)" \
    step "building the project's wheel" "$PY" -m pip wheel -q --disable-pip-version-check --no-deps \
      --ignore-requires-python --wheel-dir "$project" "$ROOT"
  rm -rf "$ROOT/build"
  ls "$project"/miniyarn-*.whl >/dev/null 2>&1 || die "pip wheel made no miniyarn wheel in $project"
  # The dependency set is fixed by pyproject.toml's dependencies and the base's python: download again
  # only when either changes.
  want="$( (requirements; docker image inspect -f '{{.Id}}' "$BASE" 2>/dev/null) \
    | "$PY" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:16])')"
  stamp="$deps/.stamp"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    rm -f "$deps"/*.whl "$stamp"
    download_deps
    echo "$want" >"$stamp"
  fi
}

# BuildKit when the engine's CLI has it (no deprecation notice, quiet); else the classic builder, which
# is all an engine without buildx has and which needs no frontend image from a registry either way
# (the Dockerfile names no `# syntax=` frontend).
docker_build() {
  local out rc=0
  if docker buildx version >/dev/null 2>&1; then
    log "docker build -t $TAG (BASE=$BASE, BuildKit)"
    out="$(DOCKER_BUILDKIT=1 docker build --progress=quiet --build-arg "BASE=$BASE" -t "$TAG" "$IMAGES" 2>&1)" || rc=$?
  else
    log "docker build -t $TAG (BASE=$BASE, classic builder: this engine has no buildx)"
    out="$(DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE=$BASE" -t "$TAG" "$IMAGES" 2>&1)" || rc=$?
  fi
  if [ "$rc" != 0 ]; then
    printf '%s\n' "$out" | grep -v -i 'legacy builder is deprecated\|install the buildx component\|docs.docker.com/go/buildx' \
      | tail -n 25 >&2
    die "docker build failed (exit $rc); the build's last lines are above"
  fi
}

T0=$(now)
command -v docker >/dev/null || die "docker is missing (apt-get install -y docker.io)"
docker info >/dev/null 2>&1 || die "no Docker daemon answers (start dockerd)"
if [ "$BASE" = "$LOCAL_BASE" ]; then
  if [ "$REBUILD_BASE" = 1 ] || ! docker image inspect "$LOCAL_BASE" >/dev/null 2>&1; then
    make_local_base
  else
    log "base $LOCAL_BASE exists"
  fi
fi
docker image inspect "$BASE" >/dev/null 2>&1 || die "the base image $BASE is not on this Docker engine: \
docker pull $BASE where a registry serves it, or leave BASE unset for the local Debian base"
build_wheels
docker_build
# The images a rebuild replaced (untagged now): only ours, never anyone else's.
docker image prune -f --filter label=miniyarn.image >/dev/null
log "built $TAG in $(awk -v a="$T0" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }') s"
