#!/bin/sh
# on_arrival hook: a desktop notification when files arrive.
#   on_arrival = ["/path/to/contrib/on-arrival/notify/notify.sh"]
# Reads the arrived files (JSON) from stdin; uses notify-send (Linux) or osascript (macOS).
# The file names are listed when python3 is available, otherwise only the count.
set -u
payload=$(cat)
count=${WORKSPACE_SYNC_ARRIVED:-0}
case ${WORKSPACE_SYNC_EVENT:-inbox} in
  ingest) title="workspace-sync: $count file(s) sent to the agent" ;;
  *) title="workspace-sync: $count file(s) arrived in _inbox" ;;
esac
body=""
if command -v python3 >/dev/null 2>&1; then
  body=$(printf '%s' "$payload" | python3 -c '
import json, sys
names = [f["path"].rsplit("/", 1)[-1] for f in json.load(sys.stdin)]
more = f"\n… and {len(names) - 5} more" if len(names) > 5 else ""
print("\n".join(names[:5]) + more)
' 2>/dev/null) || body=""
fi
if command -v notify-send >/dev/null 2>&1; then
  exec notify-send --app-name=workspace-sync "$title" "$body"
elif command -v osascript >/dev/null 2>&1; then
  # Title and text are passed as arguments, never spliced into the script.
  exec osascript -e 'on run argv' \
    -e 'display notification (item 2 of argv) with title (item 1 of argv)' \
    -e 'end run' "$title" "$body"
fi
echo "notify.sh: neither notify-send nor osascript found ($title)" >&2
exit 1
