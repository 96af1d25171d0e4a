#!/bin/sh
# Session hook for an agent runtime: sync the workspace when an agent session starts or ends.
#   session-hook.sh start|end [CONFIG]
# Runs a cycle only when sync.toml has on_session_start / on_session_end = true. A running
# daemon (`workspace-sync watch`, or the service) is asked for a cycle; without one, the cycle
# runs here. Never blocks the session for long and never fails it.
set -u
event=${1:-start}
config=${2:-${WORKSPACE_SYNC_CONFIG:-$HOME/.config/workspace-sync/sync.toml}}
case "$event" in
  start|end) ;;
  *) echo "usage: $0 start|end [CONFIG]" >&2; exit 2 ;;
esac
timeout 300 workspace-sync --config "$config" -q trigger --event "session-$event" || \
  echo "workspace-sync: session-$event sync failed (see \`workspace-sync status\`)" >&2
exit 0
