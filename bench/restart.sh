# shellcheck shell=bash
# bench/restart.sh: case 9 of bench/run (sourced by it), a restart on complete
# data: how long each client takes from its start to ready to seed, when it
# was stopped cleanly before with that data complete.
#
#   this        -seed=false on the data its own earlier run recorded in the
#               resume file: it trusts the recorded pieces of unchanged files,
#               then exits (so wall = ready, exit included)
#   this -check the same with -check: every piece hashed (for scale)
#   libtorrent  its fast-resume data (saved by an earlier run that checked
#               the data), bench/lt-fastresume.py; ready = when it seeds,
#               from the script's start (Python and the library's import
#               included)
#   aria2       without -V it refuses existing data that has no .aria2
#               control file (exit 13), and a complete download leaves none:
#               --bt-seed-unverified is its start without a check; ready =
#               when its --on-bt-download-complete hook runs
#
# The data is a hard link to the source, so nothing is copied.

C9_HOOK=

case9() {
	local r d=$WORK/c9 port ready
	mkdir -p "$d"
	ln -f "$WORK/src/data.bin" "$d/data.bin"
	# The earlier runs whose records the timed ones restart from.
	say "case 9: a first run of each client checks the data and records it"
	"$THIS" -seed=false -dht=false -lsd=false -port "$(free_port)" -dir "$d" "$WORK/x.torrent" >"$WORK/c9.first.log" 2>&1 ||
		{ say "  this client's first run failed"; tail -3 "$WORK/c9.first.log" >&2; }
	"$PY" "$ROOT/bench/lt-fastresume.py" --torrent "$WORK/x.torrent" --dir "$d" --save "$WORK/c9.lt.resume" ||
		say "  libtorrent's first run failed"
	C9_HOOK=$WORK/c9-hook.sh
	export C9_READY=$WORK/c9.ready C9_START=$WORK/c9.start
	printf '#!/bin/sh\ndate +%%s.%%N >"$C9_READY"\n' >"$C9_HOOK"
	chmod +x "$C9_HOOK"
	for r in $(seq "$ROUNDS"); do
		say "case 9 round $r"
		timed c9.this "$THIS" -seed=false -dht=false -lsd=false -port "$(free_port)" -dir "$d" "$WORK/x.torrent"
		record c9.this "$T_OK" "$T_LINE" "$(c9_this_line "$WORK/c9.this.log") $(echo "$T_LINE" | awk '{print $1}')"
		timed c9.check "$THIS" -check -seed=false -dht=false -lsd=false -port "$(free_port)" -dir "$d" "$WORK/x.torrent"
		record c9.check "$T_OK" "$T_LINE" "$(c9_this_line "$WORK/c9.check.log") $(echo "$T_LINE" | awk '{print $1}')"
		timed c9.lt "$PY" "$ROOT/bench/lt-fastresume.py" --dir "$d" --load "$WORK/c9.lt.resume"
		ready=$(awk '/^READY/ {for (i = 2; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}} END {print (v["pieces"] != "" && v["pieces"] == v["of"]) ? "yes" : "no", v["seconds"]}' "$WORK/c9.lt.log")
		record c9.lt "$T_OK" "$T_LINE" "$ready"
		rm -f "$WORK/c9.ready" "$WORK/c9.start"
		port=$(free_port)
		# the start time is taken by the timed process itself, after
		# timed's sync
		timed c9.aria2 sh -c 'date +%s.%N >"$C9_START"; exec aria2c "$@"' sh -d "$d" --enable-dht=false \
			--bt-enable-lpd=false --enable-peer-exchange=false --bt-seed-unverified=true --seed-time=0 \
			--listen-port="$port" --on-bt-download-complete="$C9_HOOK" --summary-interval=0 \
			--console-log-level=warn "$WORK/x.torrent"
		if [ -s "$WORK/c9.ready" ] && [ -s "$WORK/c9.start" ]; then
			record c9.aria2 "$T_OK" "$T_LINE" "- $(awk 'NR == 1 {t0 = $1} NR == 2 {printf "%.3f", $1 - t0}' "$WORK/c9.start" "$WORK/c9.ready")"
		else
			record c9.aria2 1
		fi
	done
	[ "$(same "$d")" = yes ] || say "  case 9: the data changed during the case"
	printf '\n%s\n' "9. restart on complete $SIZE data: start to ready to seed (ready s; wall s, CPU s, RSS: the whole process;
   good: every piece counted good, for aria2 '-': it checks nothing; hashed: pieces this client hashed at start)"
	printf '%-30s %8s %8s %8s %10s  %-6s %s\n' client "ready s" "wall s" "CPU s" "RSS MiB" good hashed
	printf '%-30s %8s %8s %8s %10s  %-6s %s\n' ------ ------- ------ ----- ------- ---- ------
	c9_row "this (resume file)" c9.this
	c9_row "this -check (hash all)" c9.check
	c9_row "libtorrent fast-resume" c9.lt
	c9_row "aria2 --bt-seed-unverified" c9.aria2
	rm -rf "$d"
}

# c9_this_line LOG: "GOOD/HASHED" from this client's start-up check line.
c9_this_line() {
	awk '/checked data on disk/ {for (i = 1; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}}
		END {printf "%s/%s", (v["pieces"] != "" && v["pieces"] == v["of"]) ? "yes" : "no", (v["hashed"] != "" ? v["hashed"] : "?")}' "$1"
}

# c9_row NAME KEY: lines "ok WALL CPU RSS GOOD[/HASHED] READY", medians.
c9_row() {
	local f=$WORK/res/$2 n fails
	n=$(grep -c '' "$f" 2>/dev/null || true)
	fails=$(grep -c '^fail' "$f" 2>/dev/null || true)
	if [ "${n:-0}" = 0 ] || [ "$fails" = "$n" ]; then
		printf '%-30s %8s %8s %8s %10s  %s\n' "$1" FAIL - - - -
		return
	fi
	local ready wall cpu rss good hashed
	ready=$(awk '$1=="ok" {print $6}' "$f" | median)
	wall=$(awk '$1=="ok" {print $2}' "$f" | median)
	cpu=$(awk '$1=="ok" {print $3}' "$f" | median)
	rss=$(awk '$1=="ok" {print $4/1024}' "$f" | median)
	good=$(awk '$1=="ok" {split($5, g, "/"); if (g[1] == "no") bad = 1; if (g[1] == "-") na = 1} END {print bad ? "no" : na ? "-" : "yes"}' "$f")
	hashed=$(awk '$1=="ok" {split($5, g, "/"); print (g[2] == "" ? "-" : g[2])}' "$f" | sort -u | paste -sd, -)
	[ "$fails" = 0 ] || good="$good ($fails of $n rounds FAIL)"
	printf '%-30s %8.3f %8.2f %8.2f %10.0f  %-6s %s\n' "$1" "$ready" "$wall" "$cpu" "$rss" "$good" "$hashed"
}
