# shellcheck shell=bash
# bench/mixed.sh: case 11 of bench/run (sourced by it), a mixed swarm.
#
# Four seeders of the same $SIZE at once, each a different client:
# libtorrent, aria2, Transmission and anacrolix/torrent, started once for
# the whole case (each checks the data first). Every round two leechers
# start on empty directories at the same moment, this client and a
# libtorrent leecher, each handed all four seeders and the other leecher
# (so they trade with each other too), both leaving once complete. Who is
# started first alternates from round to round.
#
# Per leecher: its wall time, CPU and RSS (/usr/bin/time), and whether its
# copy is identical. Target (issue 13): this client's wall at most 0.8x the
# libtorrent leecher's.

# mixed_seeders: start the four; ports in M_PORTS, process groups in
# M_PIDS; fails if one does not come up.
mixed_seeders() {
	local p home=$WORK/c11.trhome
	M_PORTS=() M_PIDS=()
	# libtorrent (bench/run's lt_seeder: returns once it has checked)
	p=$(free_port)
	spawn "$WORK/c11.lt.log" "${LT[@]}" --torrent "$WORK/x.torrent" --dir "$WORK/src" --port "$p" --seed
	M_PORTS+=("$p")
	M_PIDS+=("$SPAWNED")
	# aria2: -V checks the data, then it seeds; it prints SEED( once it does
	p=$(free_port)
	spawn "$WORK/c11.aria2.log" aria2c -d "$WORK/src" -V --seed-ratio=0.0 --seed-time=600 --listen-port="$p" \
		--enable-dht=false --bt-enable-lpd=false --enable-peer-exchange=false --summary-interval=1 \
		--console-log-level=warn "$WORK/x.torrent"
	M_PORTS+=("$p")
	M_PIDS+=("$SPAWNED")
	# Transmission: its state in a directory of ours, nothing but
	# loopback (internal/realpeers' settings); "Seeding," once verified
	mkdir -p "$home"
	cat >"$home/settings.json" <<-'EOF'
		{"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
		 "port-forwarding-enabled": false, "rpc-enabled": false, "blocklist-enabled": false,
		 "bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1", "speed-limit-up-enabled": false}
	EOF
	p=$(free_port)
	spawn "$WORK/c11.tr.log" transmission-cli -g "$home" -w "$WORK/src" -p "$p" -M -U "$WORK/x.torrent"
	M_PORTS+=("$p")
	M_PIDS+=("$SPAWNED")
	# anacrolix/torrent, as in case 2
	p=$(free_port)
	pushd "$WORK/src" >/dev/null
	spawn "$WORK/c11.ana.log" "$ANACROLIX" download --seed --no-dht --no-utp-peers --no-pex --no-ipv6 \
		--no-progress --addr "127.0.0.1:$p" "$WORK/x.torrent"
	popd >/dev/null
	M_PORTS+=("$p")
	M_PIDS+=("$SPAWNED")
	# All four check at once; wait for each.
	wait_for "$WORK/c11.lt.log" READY 300 &&
		wait_for "$WORK/c11.aria2.log" 'SEED(' 300 &&
		wait_for "$WORK/c11.tr.log" 'Seeding,' 300 &&
		wait_for "$WORK/c11.ana.log" "downloaded ALL the torrents" 300
}

# mixed_round R: both leechers at once; results under c11.this, c11.lt.
mixed_round() {
	local r=$1 tp lp dt dl p pt pl rt=0 rl=0 peers=() conns=()
	tp=$(free_port)
	lp=$(free_port)
	dt=$(mktemp -d "$WORK/dst.XXXX")
	dl=$(mktemp -d "$WORK/dst.XXXX")
	for p in "${M_PORTS[@]}"; do
		peers+=(-peer "127.0.0.1:$p")
		conns+=(--connect "127.0.0.1:$p")
	done
	sync # the data of the round before is not written back during this one
	rm -f "$WORK/c11.this.time" "$WORK/c11.ltl.time"
	start_this() {
		"${LIMIT[@]}" "${TIME[@]}" -o "$WORK/c11.this.time" "$THIS" -seed=false -dht=false -lsd=false -up-rate 0 \
			"${peers[@]}" -peer "127.0.0.1:$lp" -port "$tp" -dir "$dt" "$WORK/x.torrent" >"$WORK/c11.this.out" 2>&1 &
		pt=$!
		CHILDREN+=("$pt")
	}
	start_lt() {
		"${LIMIT[@]}" "${TIME[@]}" -o "$WORK/c11.ltl.time" "${LT[@]}" --exit --torrent "$WORK/x.torrent" --dir "$dl" \
			--port "$lp" "${conns[@]}" --connect "127.0.0.1:$tp" >"$WORK/c11.ltl.out" 2>&1 &
		pl=$!
		CHILDREN+=("$pl")
	}
	if ((r % 2)); then start_this && start_lt; else start_lt && start_this; fi
	wait_child "$pt" || rt=$?
	wait_child "$pl" || rl=$?
	mixed_record c11.this "$rt" "$WORK/c11.this.time" "$dt" "$WORK/c11.this.out"
	mixed_record c11.lt "$rl" "$WORK/c11.ltl.time" "$dl" "$WORK/c11.ltl.out"
	rm -rf "$dt" "$dl"
}

# mixed_record KEY RC TIMEFILE DIR LOG
mixed_record() {
	local line ok=$2
	line=$(tail -1 "$3" 2>/dev/null | awk 'NF==4 {print $1, $2+$3, $4}')
	[ -n "$line" ] || ok=1
	if [ "$ok" = 0 ]; then
		say "  $1: wall $(echo "$line" | awk '{print $1 " s, CPU " $2 " s, RSS " int($3/1024) " MiB"}')"
	else
		say "  $1 failed (exit $2); log tail:"
		tail -3 "$5" | sed 's/^/    /' >&2
	fi
	record "$1" "$ok" "$line" "$(same "$4")"
}

case11() {
	local r up=0
	say "case 11: starting four seeders (libtorrent, aria2, Transmission, anacrolix); each checks $SIZE first"
	mixed_seeders || up=1
	for r in $(seq "$ROUNDS"); do
		say "case 11 round $r: $( ((r % 2)) && echo 'this client started first' || echo 'libtorrent started first')"
		if [ "$up" = 0 ]; then mixed_round "$r"; else record c11.this 1 && record c11.lt 1; fi
	done
	stop_mixed_seeders
	header "11. mixed swarm: $SIZE from four seeders at once (libtorrent, aria2, Transmission, anacrolix), two leechers at once
   trading with each other too; the one started first alternates by round (target: this at most 0.8x libtorrent's wall)"
	row "this (bin/torrent)" c11.this
	row "libtorrent (python)" c11.lt
}

# stop_mixed_seeders: end the four seeders' groups.
stop_mixed_seeders() {
	local pid
	for pid in "${M_PIDS[@]}"; do stop_group "$pid"; done
	rm -rf "$WORK/c11.trhome"
}
