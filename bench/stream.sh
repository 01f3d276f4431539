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
# Every read is compared with the source.

STREAM_SIZE=${STREAM_SIZE:-256MiB}
STREAM_RATE=${STREAM_RATE:-2000000}
STREAM_SEEKS=${STREAM_SEEKS:-10}

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

# stream_round CLIENT ROUND: one run of CLIENT; results to $WORK/res/c8.*.
stream_round() {
	local client=$1 r=$2 d mnt=$WORK/stream/mnt f t0 i pid off line mib
	d=$(mktemp -d "$WORK/stream/dst.XXXX")
	mkdir -p "$mnt"
	MOUNTS_+=("$mnt")
	f=$mnt/s.bin
	t0=$(now_ms)
	case $client in
	this) spawn "$WORK/c8.$client.$r.log" "$THIS" -dht=false -lsd=false -up-rate 0 -port "$(free_port)" -dir "$d" -torfs "$mnt" "$WORK/stream/s.torrent" ;;
	lazy) spawn "$WORK/c8.$client.$r.log" "$THIS" mount -lazy -dht=false -lsd=false -up-rate 0 -port "$(free_port)" -dir "$d" "$WORK/stream/s.torrent" "$mnt" ;;
	btfs) spawn "$WORK/c8.$client.$r.log" btfs -f --data-directory="$d" "$WORK/stream/s.torrent" "$mnt" ;;
	esac
	pid=$SPAWNED
	for ((i = 0; i < 12000; i++)); do
		[ "$(stat -c %s "$f" 2>/dev/null)" = "$SBYTES" ] && break
		alive "$pid" || break
		sleep 0.005
	done
	if [ "$(stat -c %s "$f" 2>/dev/null)" != "$SBYTES" ]; then
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
	# The same offsets for both clients in a round, others each round.
	for off in $(shuf -i "1-$((mib - 1))" -n "$STREAM_SEEKS" --random-source=<(yes "$r")); do
		stream_read "$f" "$off" >>"$WORK/res/c8.$client.seek"
	done
	group_use "$pid" | awk '{print $1}' >>"$WORK/res/c8.$client.cpu"
	du -sB1 "$d" | awk '{print $1}' >>"$WORK/res/c8.$client.bytes"
	say "  $client round $r: stat $(tail -1 "$WORK/res/c8.$client.stat") ms, first MiB $line, seeks $(tail -"$STREAM_SEEKS" "$WORK/res/c8.$client.seek" | awk '{printf "%s ", $1}')ms, $(tail -1 "$WORK/res/c8.$client.bytes") bytes on disk"
	end_mount "$pid" "$mnt"
	rm -rf "$d"
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
}
