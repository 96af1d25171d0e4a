#!/bin/sh
# on_arrival hook: POST the arrived files to a webhook.
#   on_arrival = ["/path/to/contrib/on-arrival/webhook/webhook.sh", "https://example.com/hook"]
# The URL is the first argument or $WORKSPACE_SYNC_WEBHOOK_URL. The body is
#   {"event": "inbox"|"ingest", "count": N, "files": [<the JSON read from stdin>]}
# An optional bearer token comes from $WORKSPACE_SYNC_WEBHOOK_TOKEN (never put it in argv).
set -u
url=${1:-${WORKSPACE_SYNC_WEBHOOK_URL:-}}
if [ -z "$url" ]; then
  echo "webhook.sh: no URL (pass it as the first argument or set WORKSPACE_SYNC_WEBHOOK_URL)" >&2
  exit 2
fi
event=${WORKSPACE_SYNC_EVENT:-inbox}
count=${WORKSPACE_SYNC_ARRIVED:-0}
case $event in inbox|ingest) ;; *) event=unknown ;; esac
case $count in ''|*[!0-9]*) count=0 ;; esac
headers=""
if [ -n "${WORKSPACE_SYNC_WEBHOOK_TOKEN:-}" ]; then
  # The token goes through a 0600 header file (curl -H @file), so it stays out of `ps`.
  umask 077
  headers=$(mktemp) || exit 1
  trap 'rm -f "$headers"' EXIT
  printf 'Authorization: Bearer %s\n' "$WORKSPACE_SYNC_WEBHOOK_TOKEN" >"$headers"
fi
{
  printf '{"event": "%s", "count": %s, "files": ' "$event" "$count"
  cat
  printf '}\n'
} | curl --silent --show-error --fail --max-time 20 --retry 2 \
  -H "Content-Type: application/json" ${headers:+-H "@$headers"} \
  --data-binary @- "$url"
