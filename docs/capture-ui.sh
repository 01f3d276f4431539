#!/usr/bin/env bash
# docs/capture-ui.sh W H: text captures of each terminal UI view during
# `torrent demo` (seeders slowed so that it lasts), with tmux capture-pane,
# into docs/ui-term-VIEW-WxH.txt. Run `make build` first.
set -euo pipefail
W=${1:-100} H=${2:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
S=torrent-capture-$$
trap 'tmux -L $S kill-server 2>/dev/null || true' EXIT
tmux -L "$S" new-session -d -x "$W" -y "$H" "$ROOT/bin/torrent demo -seed-rate 700KB; sleep 5"
# the main view a quarter of the way through
for _ in $(seq 300); do
	scr=$(tmux -L "$S" capture-pane -p)
	grep -q 'Files (4)' <<<"$scr" && grep -Eq ' (2[5-9]|3[0-9])\.[0-9]%' <<<"$scr" && break
	sleep 0.1
done
tmux -L "$S" capture-pane -p >"$ROOT/docs/ui-term-main-${W}x$H.txt"
for v in 2:peers 3:files 4:trackers 5:rates 6:log '?:keys'; do
	tmux -L "$S" send-keys "${v%%:*}"
	# files: the cursor on the second file, made high priority
	[ "${v#*:}" = files ] && sleep 0.3 && tmux -L "$S" send-keys j +
	sleep 0.8
	tmux -L "$S" capture-pane -p >"$ROOT/docs/ui-term-${v#*:}-${W}x$H.txt"
done
tmux -L "$S" send-keys q
