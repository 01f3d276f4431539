# Case 8 of bench/run (sourced by it): reading through the mount while the
# torrent downloads, this client's -torfs and -lazy (torrent mount -lazy:
# it fetches only what is read and its readahead) next to btfs (Debian's
# FUSE torrent filesystem, libtorrent inside), same swarm, rounds that
# alternate the order.
#
# The swarm: STREAM_SIZE of random data in 256 KiB pieces, three libtorrent
# seeders capped at STREAM_RATE bytes/s each on 127.0.0.52-54 (distinct
# addresses: libtorrent, so btfs, keeps one connection per IP), found
# through a local opentracker (btfs cannot be handed a peer). Each round
# starts each client on an empty directory and measures:
#   stat:      start to the file being there at its full size
#   first MiB: a 1 MiB read at offset 0, right after
#   seeks:     STREAM_SEEKS 1 MiB reads at random MiB-aligned offsets, one
#              after another, while the download goes on (a read of data
#              that came in meanwhile is fast for both: the same chance)
#   CPU:       the client's processes' user+sys seconds over the round
#   MB disk:   what the client's data directory holds (allocated blocks)
#              once the reads end: the bytes it downloaded, near enough
#   two readers: then two dd read STREAM_PAIR MiB each at once, from a third
#              and two thirds into the file: their total read rate, and the
#              client's download rate over the same interval (this client:
#              its status's downloaded bytes; btfs: its data directory's)
#   read/down: every byte the readers read, and what the client downloaded
#              by then (this client: its status; btfs: MB disk), and the
#              readahead allowance: for -lazy, what its reads and their
#              readahead asked for (torrent status -json's lazy.asked) less
#              what was read, so "within" checks downloaded <= read +
#              allowance; for the others, which fetch regardless of reads,
#              downloaded minus read
# Every read is compared with the source.

STREAM_SIZE=${STREAM_SIZE:-256MiB}
STREAM_RATE=${STREAM_RATE:-2000000}
STREAM_SEEKS=${STREAM_SEEKS:-10}
STREAM_PAIR=${STREAM_PAIR:-16}
# STREAM_CLIENTS: which of "this lazy btfs" run (all by default; fewer to
# explore a change quickly).
STREAM_CLIENTS=${STREAM_CLIENTS:-this lazy btfs}

stream_setup() {
	local s=$WORK/stream port h
	SBYTES=$(numfmt --from=auto "${STREAM_SIZE%B}")
	mkdir -p "$s/src" "$s/tracker"
	chmod 755 "$s" "$s/tracker"
	say "case 8: making $STREAM_SIZE of random data"
	head -c "$SBYTES" /dev/urandom >"$s/src/s.bin"
	SPORT=$(free_port)
	mktorrent -l 18 -a "http://127.0.0.1:$SPORT/announce" -o "$s/s.torrent" "$s/src/s.bin" >/dev/null
	"$THIS" info "$s/s.torrent" | awk '/^info-hash:/ {print $2}' >"$s/tracker/wl.txt"
	spawn "$s/tracker.log" opentracker -i 127.0.0.1 -p "$SPORT" -P "$SPORT" -d "$s/tracker" -w wl.txt -u nobody
	for h in 52 53 54; do
		port=$(free_port)
		spawn "$s/seed.$h.log" "${LT[@]}" --torrent "$s/s.torrent" --dir "$s/src" --host "127.0.0.$h" --port "$port" \
			--seed --tracker --upload-rate "$STREAM_RATE"
		wait_for "$s/seed.$h.log" READY || return 1
	done
}

# now_ms: milliseconds since the epoch.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# stream_read FILE MIB: one 1 MiB read at MiB offset MIB; prints its
# milliseconds and whether it matched the source ("ms ok" or "ms bad").
stream_read() {
	local t0 t1 got want
	t0=$(now_ms)
	got=$(timeout 120 dd if="$1" bs=1M count=1 skip="$2" status=none 2>/dev/null | sha1sum | cut -d' ' -f1)
	t1=$(now_ms)
	want=$(dd if="$WORK/stream/src/s.bin" bs=1M count=1 skip="$2" status=none | sha1sum | cut -d' ' -f1)
	[ "$got" = "$want" ] && echo "$((t1 - t0)) ok" || echo "$((t1 - t0)) bad"
}

# stream_offsets ROUND MIB: STREAM_SEEKS distinct MiB offsets in [1, MIB),
# the same for every client in a round.
stream_offsets() {
	$PY -c 'import random, sys
r, mib, n = map(int, sys.argv[1:])
print(*random.Random(r).sample(range(1, mib), n))' "$1" "$2" "$STREAM_SEEKS"
}

# status_of DIR FIELD...: fields of `torrent status -json DIR` (a.b for one
# inside an object), space separated; - for one absent or null, and for all
# when no client of ours answers there (btfs).
status_of() {
	{ "$THIS" status -json "$1" 2>/dev/null || true; } | $PY -c 'import json, sys
try: v = json.load(sys.stdin)
except ValueError: v = {}
out = []
for f in sys.argv[1:]:
    x = v
    for k in f.split("."): x = x.get(k) if isinstance(x, dict) else None
    out.append("-" if x is None else str(x))
print(" ".join(out))' "${@:2}"
}

# stream_down CLIENT DIR: the bytes CLIENT has downloaded so far: this
# client's status says (payload, this session); btfs's data directory's
# allocated blocks.
stream_down() {
	if [ "$1" = btfs ]; then du -sB1 "$2" | awk '{print $1}'; else status_of "$2" downloaded | sed 's/^-$/0/'; fi
}

# stream_pair CLIENT FILE DIR: two readers at once, STREAM_PAIR MiB each
# from a third and two thirds into FILE; appends "read_bytes down_bytes ms
# ok|bad" to $WORK/res/c8.CLIENT.pair.
stream_pair() {
	local client=$1 f=$2 d=$3 mib=$((SBYTES >> 20)) n=$STREAM_PAIR a b d0 d1 t0 t1 pa pb ok=ok k
	n=$((n < mib / 3 ? n : mib / 3))
	a=$((mib / 3)) b=$((2 * mib / 3))
	d0=$(stream_down "$client" "$d")
	t0=$(now_ms)
	timeout 300 dd if="$f" bs=1M skip="$a" count="$n" status=none 2>/dev/null | sha1sum >"$WORK/c8.pair.a" &
	pa=$!
	timeout 300 dd if="$f" bs=1M skip="$b" count="$n" status=none 2>/dev/null | sha1sum >"$WORK/c8.pair.b" &
	pb=$!
	wait "$pa" "$pb" || true
	t1=$(now_ms)
	d1=$(stream_down "$client" "$d")
	for k in a b; do
		[ "$(cat "$WORK/c8.pair.$k")" = "$(dd if="$WORK/stream/src/s.bin" bs=1M skip="$([ $k = a ] && echo "$a" || echo "$b")" count="$n" status=none | sha1sum)" ] || ok=bad
	done
	echo "$((2 * n << 20)) $((d1 - d0)) $((t1 - t0)) $ok" >>"$WORK/res/c8.$client.pair"
}

# stream_round CLIENT ROUND: one run of CLIENT; results to $WORK/res/c8.*.
stream_round() {
	local client=$1 r=$2 d mnt=$WORK/stream/mnt f t0 i pid off line mib
	d=$(mktemp -d "$WORK/stream/dst.XXXX")
	mkdir -p "$mnt"
	MOUNTS_+=("$mnt")
	f=$mnt/s.bin
	t0=$(now_ms)
	spawn_reader "$client" "$WORK/c8.$client.$r.log" "$d" "$WORK/stream/s.torrent" "$mnt"
	pid=$SPAWNED
	if ! wait_size "$f" "$SBYTES" "$pid"; then
		say "  $client: the file never appeared: $(tail -2 "$WORK/c8.$client.$r.log")"
		echo fail >>"$WORK/res/c8.$client.stat"
		end_mount "$pid" "$mnt"
		rm -rf "$d"
		return
	fi
	echo "$(($(now_ms) - t0))" >>"$WORK/res/c8.$client.stat"
	line=$(stream_read "$f" 0)
	echo "$line" >>"$WORK/res/c8.$client.first"
	mib=$((SBYTES >> 20))
	# The same offsets for both clients in a round, others each round,
	# drawn by a generator seeded with the round: shuf's --random-source
	# fed a repeated byte gave two runs 2 MiB apart, each seek landing in
	# the window a stream kept ahead of the one two before it.
	for off in $(stream_offsets "$r" "$mib"); do
		stream_read "$f" "$off" >>"$WORK/res/c8.$client.seek"
	done
	stream_pair "$client" "$f" "$d"
	group_use "$pid" | awk '{print $1}' >>"$WORK/res/c8.$client.cpu"
	du -sB1 "$d" | awk '{print $1}' >>"$WORK/res/c8.$client.bytes"
	stream_budget "$client" "$d" >>"$WORK/res/c8.$client.budget"
	say "  $client round $r: stat $(tail -1 "$WORK/res/c8.$client.stat") ms, first MiB $line, seeks $(tail -"$STREAM_SEEKS" "$WORK/res/c8.$client.seek" | awk '{printf "%s ", $1}')ms, $(tail -1 "$WORK/res/c8.$client.bytes") bytes on disk; two readers (read down ms): $(tail -1 "$WORK/res/c8.$client.pair"); read down allowance: $(tail -1 "$WORK/res/c8.$client.budget")"
	end_mount "$pid" "$mnt"
	rm -rf "$d"
}

# stream_budget CLIENT DIR: "read down allowance" in bytes once the reads
# of a round end: what the readers read (first MiB, seeks, two readers),
# what the client downloaded, and its readahead allowance (see the top).
stream_budget() {
	local client=$1 d=$2 read down asked
	read=$(((1 + STREAM_SEEKS) << 20))
	read=$((read + $(tail -1 "$WORK/res/c8.$client.pair" | awk '{print $1}')))
	down=$(stream_down "$client" "$d")
	asked=-
	[ "$client" = lazy ] && asked=$(status_of "$d" lazy.asked)
	if [ "$asked" = - ]; then
		echo "$read $down $((down - read))"
	else
		echo "$read $down $((asked - read))"
	fi
}

# quantile Q: the Q-quantile (nearest rank) of the numbers on stdin.
quantile() { sort -g | awk -v q="$1" '{a[NR]=$1} END {i=int(q*NR+0.999999); if (i<1) i=1; print a[i]}'; }

stream_row() {
	local c=$1 name=$2 res=$WORK/res/c8.$1 bad
	if ! [ -s "$res.seek" ]; then
		printf '%-24s %8s\n' "$name" FAIL
		return
	fi
	bad=$(cat "$res.first" "$res.seek" | awk '$2 != "ok"' | wc -l)
	printf '%-24s %8s %9.2f %9.2f %9.2f %9.2f %8.1f %8.1f  %s\n' "$name" \
		"$(grep -v fail "$res.stat" | median)" \
		"$(awk '{print $1/1000}' "$res.first" | median)" \
		"$(awk '{print $1/1000}' "$res.seek" | median)" \
		"$(awk '{print $1/1000}' "$res.seek" | quantile 0.9)" \
		"$(awk '{print $1/1000}' "$res.seek" | sort -g | tail -1)" \
		"$(median <"$res.cpu")" \
		"$(awk '{print $1 / 1e6}' "$res.bytes" | median)" \
		"$([ "$bad" = 0 ] && echo yes || echo "no ($bad reads differ)")"
}

case8() {
	local r c order
	command -v btfs >/dev/null || { say "case 8 needs btfs (apt-get install btfs)"; return 1; }
	stream_setup || return 1
	for r in $(seq "$ROUNDS"); do
		order="this lazy btfs"
		[ $((r % 2)) = 0 ] && order="btfs lazy this"
		for c in $order; do
			[[ " $STREAM_CLIENTS " == *" $c "* ]] || continue
			say "case 8 round $r: $c"
			stream_round "$c" "$r"
		done
	done
	printf '\n8. reading through the mount while downloading: %s in 256 KiB pieces from 3 libtorrent seeders at %s B/s each
   (127.0.0.52-54, via opentracker); %s rounds; %s 1 MiB reads at random offsets a round; medians, seeks over all rounds\n' \
		"$STREAM_SIZE" "$STREAM_RATE" "$ROUNDS" "$STREAM_SEEKS"
	printf '%-24s %8s %9s %9s %9s %9s %8s %8s  %s\n' client "stat ms" "first s" "seek med" "seek p90" "seek max" "CPU s" "MB disk" identical
	printf '%-24s %8s %9s %9s %9s %9s %8s %8s  %s\n' ------ ------- ------- -------- -------- -------- ----- ------- ---------
	stream_row this "this client (-torfs)"
	stream_row lazy "this client (-lazy)"
	stream_row btfs "btfs $(dpkg-query -W -f '${Version}' btfs 2>/dev/null)"
	printf '\n8b. what each downloaded for what was read (MB, once the reads end; allowance: -lazy, what its reads asked for
    beyond the bytes read, the readahead; others, downloaded minus read), and two readers at once (%s MiB each, a third
    and two thirds in): their total read rate and the download rate over the same interval (MB/s); medians\n' "$STREAM_PAIR"
	printf '%-24s %8s %8s %8s %7s %9s %9s %9s %6s\n' client "MB read" "MB down" "MB allow" within "2 read" "down" "read/down" same
	printf '%-24s %8s %8s %8s %7s %9s %9s %9s %6s\n' ------ ------- ------- -------- ------ ------ ---- --------- ----
	stream_budget_row this "this client (-torfs)"
	stream_budget_row lazy "this client (-lazy)"
	stream_budget_row btfs "btfs $(dpkg-query -W -f '${Version}' btfs 2>/dev/null)"
}

stream_budget_row() {
	local c=$1 name=$2 res=$WORK/res/c8.$1 within=-
	if ! [ -s "$res.budget" ] || ! [ -s "$res.pair" ]; then
		printf '%-24s %8s\n' "$name" FAIL
		return
	fi
	# downloaded <= read + allowance in every round: the lazy mount's bound
	[ "$c" = lazy ] && within=$(awk '$2 > $1 + $3 {bad++} END {print bad ? "no" : "yes"}' "$res.budget")
	printf '%-24s %8.1f %8.1f %8.1f %7s %9.2f %9.2f %9.2f %6s\n' "$name" \
		"$(awk '{print $1 / 1e6}' "$res.budget" | median)" \
		"$(awk '{print $2 / 1e6}' "$res.budget" | median)" \
		"$(awk '{print $3 / 1e6}' "$res.budget" | median)" \
		"$within" \
		"$(awk '{print $1 / 1e3 / $3}' "$res.pair" | median)" \
		"$(awk '{print $2 / 1e3 / $3}' "$res.pair" | median)" \
		"$(awk '{print ($2 > 0 ? $1 / $2 : 0)}' "$res.pair" | median)" \
		"$(awk '$4 != "ok" {bad++} END {print bad ? "no" : "yes"}' "$res.pair")"
}
