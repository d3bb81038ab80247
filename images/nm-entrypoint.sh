#!/bin/sh
# The NodeManager in compose: a work area of its own under $MINIYARN_HOST_DIR, a host directory
# bind-mounted at the same path, so the sibling containers the docker executor starts can mount
# their work and log dirs at the paths the NM wrote them to. Replicas share nothing (--scale works);
# the path goes to /tmp/nm-dir for the healthcheck, and the area is removed when the NM exits.
#
# MINIYARN_NM_DIR_NAME=hostname (compose's bridge network, where each NM container has a hostname of
# its own): the node id is <hostname>:<port> and the area nm-<hostname>, both the same after a restart,
# so what a killed NM left there is swept before it starts again (its Docker containers the NM itself
# removes: they carry its node id). Otherwise (the host network, where replicas share the host's name)
# a fresh nm-XXXXXXXX per start, and the node id's host is what the command line says.
set -eu
root="${MINIYARN_HOST_DIR:?set MINIYARN_HOST_DIR to a host path mounted at the same path}"
mkdir -p "$root"
if [ "${MINIYARN_NM_DIR_NAME:-}" = "hostname" ]; then
  name="$(hostname)"
  dir="$root/nm-$name"
  if [ "${MINIYARN_NM_RECOVERY:-false}" = "true" ]; then
    # NM recovery: a crashed life's containers still run; this one takes them back from its records
    # there (and removes the rest). A stop (SIGTERM) still ends them: not supervised, so `down` leaves none.
    mkdir -p "$dir"
    set -- "$@" -D yarn.nodemanager.recovery.enabled=true -D yarn.nodemanager.recovery.supervised=false
  else
    rm -rf "$dir"  # an earlier life's containers' dirs and logs: that node is gone, its containers too
    mkdir "$dir"
  fi
  set -- --hostname "$name" "$@"
elif [ "${MINIYARN_NM_RECOVERY:-false}" = "true" ]; then
  echo "miniyarn-nm-entrypoint: MINIYARN_NM_RECOVERY=true needs MINIYARN_NM_DIR_NAME=hostname (a node id and dirs" \
       "that survive a restart)" >&2
  exit 2
else
  dir="$(mktemp -d "$root/nm-XXXXXXXX")"
fi
chmod 755 "$dir"
echo "$dir" >/tmp/nm-dir
python -m nodemanager --local-dirs "$dir/local" --log-dirs "$dir/logs" "$@" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' TERM INT
status=0
wait "$pid" || status=$?
# A trapped signal ends `wait` early: wait for the NM to finish its shutdown (it stops its containers).
# (The interrupted `wait` said 128+signal: the NM's own status is what the next one returns.)
while kill -0 "$pid" 2>/dev/null; do status=0; wait "$pid" || status=$?; done
# With recovery, an NM that died (not a stop) leaves its area to its next life, which takes its containers back.
if [ "${MINIYARN_NM_RECOVERY:-false}" != "true" ] || [ "$status" = 0 ]; then
  rm -rf "$dir"
fi
exit "$status"
