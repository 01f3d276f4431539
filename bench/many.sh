# shellcheck shell=bash
# bench/many.sh: case 12 of bench/run (sourced by it), seeding many at once.
#
# One seeder, this client or libtorrent (the order rotates by round), and
# MANY_LEECHERS (16) libtorrent leechers started at the same moment, each
# handed the seeder alone. The leechers run without libtorrent's plugins
# (ltpeer.py --no-plugins: no ut_pex), so no seeder can introduce them to
# each other: every byte comes from the seeder, MANY_LEECHERS copies.
#
# The data is MANY_SIZE (default: SIZE/16, so 1 GiB sent in all at the
# default SIZE; 16 leechers of 1 GiB each would take 16 GiB of disk and
# most of the machine's memory in page cache), 1 MiB pieces.
#
#   wall:  from the leechers' start to the last one done
#   MB/s:  all copies
#   CPU:   the seeder's CPU seconds (all its processes) while the leechers
#          ran, per GiB sent (its start-up check of the data excluded)
#   RSS:   the seeder's largest process, peak
# Target (issue 13): this client's CPU per GiB at most libtorrent's, and
# its last leecher done sooner.

MANY_LEECHERS=${MANY_LEECHERS:-16}

many_setup() {
	local m=$WORK/many
	MBYTES=$(numfmt --from=auto "${MANY_SIZE%B}")
	mkdir -p "$m/src"
	head -c "$MBYTES" "$WORK/src/data.bin" >"$m/src/m.bin"
	mktorrent -l 20 -a http://127.0.0.1:1/announce -o "$m/m.torrent" "$m/src/m.bin" >/dev/null
}

# many_round SEEDER: one round with SEEDER (this or libtorrent) seeding.
many_round() {
	local c=$1 m=$WORK/many sp spid ok=0 i pids=() start before after wall ident=yes key=c12.$1
	sp=$(free_port)
	rm -f "$m"/.torrent-*.resume # this client checks the data at every start, as libtorrent does
	case $c in
	this)
		spawn "$m/seed.log" "$THIS" -dht=false -lsd=false -up-rate 0 -port "$sp" -dir "$m/src" "$m/m.torrent"
		spid=$SPAWNED
		wait_for "$m/seed.log" "checked data on disk" || ok=1
		;;
	libtorrent)
		spawn "$m/seed.log" "${LT[@]}" --torrent "$m/m.torrent" --dir "$m/src" --port "$sp" --seed
		spid=$SPAWNED
		wait_for "$m/seed.log" READY || ok=1
		;;
	esac
	if [ "$ok" != 0 ]; then
		stop_group "$spid"
		record "$key" 1
		return
	fi
	before=$(group_use "$spid")
	sync
	start=$(date +%s.%N)
	for i in $(seq "$MANY_LEECHERS"); do
		mkdir -p "$m/l$i"
		"${LIMIT[@]}" "${LT[@]}" --no-plugins --exit --torrent "$m/m.torrent" --dir "$m/l$i" --port "$(free_port)" \
			--connect "127.0.0.1:$sp" >"$m/l$i.log" 2>&1 &
		pids+=($!)
		CHILDREN+=($!)
	done
	for i in "${!pids[@]}"; do
		wait_child "${pids[$i]}" || { ok=1; say "  leecher $((i + 1)) failed: $(tail -1 "$m/l$((i + 1)).log")"; }
	done
	wall=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {print e-s}')
	after=$(group_use "$spid")
	alive "$spid" || { ok=1; say "  the seeder exited: $(tail -1 "$m/seed.log")"; }
	stop_group "$spid"
	for i in $(seq "$MANY_LEECHERS"); do
		cmp -s "$m/src/m.bin" "$m/l$i/m.bin" || ident=no
	done
	rm -rf "$m"/l[0-9]*
	# CPU per GiB sent; RSS: the seeder's peak
	local line
	line=$(echo "$before $after" | awk -v w="$wall" -v b="$((MBYTES * MANY_LEECHERS))" \
		'{printf "%s %.3f %d", w, ($3 - $1) / (b / 1073741824), $4}')
	[ "$ok" = 0 ] && say "  $key: last leecher done after $wall s; seeder CPU $(echo "$before $after" | awk '{print $3 - $1}') s"
	record "$key" "$ok" "$line" "$ident"
}

case12() {
	local r i c order=(this libtorrent)
	MANY_SIZE=${MANY_SIZE:-$((BYTES / 16))}
	say "case 12: $MANY_LEECHERS libtorrent leechers of $MANY_SIZE bytes at once"
	many_setup
	for r in $(seq "$ROUNDS"); do
		for i in 0 1; do
			c=${order[$(((r - 1 + i) % 2))]}
			say "case 12 round $r: $c seeding"
			many_round "$c"
		done
	done
	rm -rf "$WORK/many"
	header "12. seeding many: one seeder, $MANY_LEECHERS libtorrent leechers at once, $MBYTES bytes each from the seeder alone
   (wall: until the last leecher is done; MB/s: all copies; CPU: the seeder's CPU seconds per GiB sent, its start-up check excluded;
   RSS: the seeder's largest process; identical: every leecher's copy)"
	row "this seeding" c12.this $((MBYTES * MANY_LEECHERS))
	row "libtorrent seeding" c12.libtorrent $((MBYTES * MANY_LEECHERS))
}
