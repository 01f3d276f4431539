# Case 10 of bench/run (sourced by it): a video played from the mount while
# the torrent downloads, this client's -torfs and -lazy mounts next to btfs.
#
# The video: VIDEO_SECONDS of ffmpeg's testsrc at 1280x720, 30 fps, H.264
# (libx264, constant VIDEO_KBPS kbit/s with filler, moov first) in an MP4,
# in 256 KiB pieces; three libtorrent seeders on 127.0.0.52-54 capped so
# that together they deliver twice the file's bitrate, found through a
# local opentracker (btfs takes peers from a tracker only). Each client
# starts on an empty directory; then, one after the other:
#   play:  ffmpeg -re (real time) from the start for VIDEO_PLAY seconds:
#          time to the first frame, and the longest stall after it (the
#          longest wall time the frame count stood still, from ffmpeg's
#          -progress every 0.1 s: 0.1 means none)
#   seeks: three `ffmpeg -re -ss T` at 45%, 70% and 90% of the video, each
#          played for 3 s: time to its first frame
#   MB on disk: what the client's data directory holds (allocated blocks)
#          once the last seek has played: the bytes it downloaded, near
#          enough, for every client alike
#   MB read, MB asked: -lazy only (torrent status -json's lazy object):
#          the bytes ffmpeg read through the mount (a byte read twice
#          counts twice), and the bytes of the pieces those reads and their
#          readahead asked for; "within" checks that the bytes downloaded
#          are no more than those asked for
# ffmpeg's own errors (a bad read breaks the decode) are counted.

VIDEO_SECONDS=${VIDEO_SECONDS:-180}
VIDEO_KBPS=${VIDEO_KBPS:-4000}
VIDEO_PLAY=${VIDEO_PLAY:-20}
# VIDEO_CLIENTS: which of "this lazy btfs" run (all by default).
VIDEO_CLIENTS=${VIDEO_CLIENTS:-this lazy btfs}

video_setup() {
	local v=$WORK/video port h
	mkdir -p "$v/src" "$v/tracker"
	chmod 755 "$v" "$v/tracker"
	say "case 10: encoding ${VIDEO_SECONDS} s of H.264 at ${VIDEO_KBPS} kbit/s"
	ffmpeg -nostdin -loglevel error -f lavfi -i "testsrc=size=1280x720:rate=30" -t "$VIDEO_SECONDS" \
		-c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 60 -b:v "${VIDEO_KBPS}k" -minrate "${VIDEO_KBPS}k" \
		-maxrate "${VIDEO_KBPS}k" -bufsize "$((VIDEO_KBPS / 2))k" -x264-params nal-hrd=cbr \
		-movflags +faststart "$v/src/v.mp4"
	VBYTES=$(stat -c %s "$v/src/v.mp4")
	# Twice the file's own rate, shared by three seeders.
	VSEED_RATE=$((2 * VBYTES / VIDEO_SECONDS / 3))
	VPORT=$(free_port)
	mktorrent -l 18 -a "http://127.0.0.1:$VPORT/announce" -o "$v/v.torrent" "$v/src/v.mp4" >/dev/null
	"$THIS" info "$v/v.torrent" | awk '/^info-hash:/ {print $2}' >"$v/tracker/wl.txt"
	spawn "$v/tracker.log" opentracker -i 127.0.0.1 -p "$VPORT" -P "$VPORT" -d "$v/tracker" -w wl.txt -u nobody
	for h in 52 53 54; do
		port=$(free_port)
		spawn "$v/seed.$h.log" "${LT[@]}" --torrent "$v/v.torrent" --dir "$v/src" --host "127.0.0.$h" --port "$port" \
			--seed --tracker --upload-rate "$VSEED_RATE"
		wait_for "$v/seed.$h.log" READY || return 1
	done
}

# stamp: each line of stdin with the milliseconds since the epoch before it.
stamp() { $PY -u -c 'import sys, time
for l in sys.stdin: print(int(time.time() * 1000), l, end="", flush=True)'; }

# video_play FILE SS SECONDS KEY: ffmpeg -re plays SECONDS of FILE from SS;
# appends "first_frame_s longest_stall_s errors" to $WORK/res/c10.KEY.
video_play() {
	local f=$1 ss=$2 dur=$3 key=$4 t0 log=$WORK/c10.ffmpeg.$$ errs
	t0=$(now_ms)
	timeout 300 ffmpeg -nostdin -loglevel error -re -ss "$ss" -i "$f" -t "$dur" -f null - \
		-progress pipe:1 -stats_period 0.1 2>"$log.err" | stamp >"$log.out" || true
	errs=$(wc -l <"$log.err")
	awk -v t0="$t0" -v errs="$errs" '
		$2 ~ /^frame=/ {
			split($2, a, "="); n = a[2] + 0; t = $1
			if (!first && n > 0) { first = t; last = t; frames = n; next }
			if (first && n > frames) { if (t - last > stall) stall = t - last; last = t; frames = n }
		}
		END {
			if (!first) { print "fail fail", errs; exit }
			printf "%.2f %.2f %d\n", (first - t0) / 1000, stall / 1000, errs
		}' "$log.out" >>"$WORK/res/c10.$key"
	rm -f "$log.out" "$log.err"
}

# video_round CLIENT: one run of CLIENT; results to $WORK/res/c10.CLIENT.*.
video_round() {
	local client=$1 d mnt=$WORK/video/mnt f pid i ss
	d=$(mktemp -d "$WORK/video/dst.XXXX")
	mkdir -p "$mnt"
	MOUNTS_+=("$mnt")
	f=$mnt/v.mp4
	spawn_reader "$client" "$WORK/c10.$client.log" "$d" "$WORK/video/v.torrent" "$mnt"
	pid=$SPAWNED
	if ! wait_size "$f" "$VBYTES" "$pid"; then
		say "  $client: the file never appeared: $(tail -2 "$WORK/c10.$client.log")"
		end_mount "$pid" "$mnt"
		rm -rf "$d"
		return
	fi
	video_play "$f" 0 "$VIDEO_PLAY" "$client.play"
	for i in 45 70 90; do
		ss=$((VIDEO_SECONDS * i / 100))
		video_play "$f" "$ss" 3 "$client.seek"
	done
	du -sB1 "$d" | awk '{print $1}' >>"$WORK/res/c10.$client.bytes"
	# "read asked downloaded": - - - but for -lazy
	status_of "$d" lazy.read lazy.asked downloaded >>"$WORK/res/c10.$client.budget"
	say "  $client: play (first frame, stall, errors) $(tail -1 "$WORK/res/c10.$client.play"); seeks $(tail -3 "$WORK/res/c10.$client.seek" | awk '{printf "%s ", $1}')s; $(tail -1 "$WORK/res/c10.$client.bytes") bytes on disk"
	end_mount "$pid" "$mnt"
	rm -rf "$d"
}

video_row() {
	local res=$WORK/res/c10.$1
	if ! [ -s "$res.play" ] || grep -q fail "$res.play"; then
		printf '%-22s %8s\n' "$2" FAIL
		return
	fi
	printf '%-22s %9s %9s %6s %6s %6s %9.1f %7s %8s %8s %7s\n' "$2" \
		"$(awk '{print $1}' "$res.play")" "$(awk '{print $2}' "$res.play")" \
		$(awk '{print $1}' "$res.seek" | head -3 | xargs) \
		"$(awk '{print $1 / 1e6}' "$res.bytes")" \
		"$(cat "$res.play" "$res.seek" | awk '{e += $3} END {print e + 0}')" \
		$(awk '$1 == "-" || $1 == "" {print "- - -"; next}
			{printf "%.1f %.1f %s\n", $1 / 1e6, $2 / 1e6, ($3 <= $2 ? "yes" : "no")}' "$res.budget" 2>/dev/null || echo "- - -")
}

case10() {
	local c
	command -v btfs >/dev/null || { say "case 10 needs btfs (apt-get install btfs)"; return 1; }
	command -v ffmpeg >/dev/null || { say "case 10 needs ffmpeg (apt-get install ffmpeg)"; return 1; }
	video_setup || return 1
	for c in $VIDEO_CLIENTS; do
		say "case 10: $c"
		video_round "$c"
	done
	printf '\n10. a video played from the mount while downloading: %s s of 720p H.264 at %s kbit/s (%s bytes), 256 KiB pieces,
    3 libtorrent seeders at %s B/s each (twice the bitrate in all); ffmpeg -re plays %s s from the start, then 3 s
    at each of 45%%, 70%%, 90%%; seconds; MB on disk once the last seek played (the file is %s MB)\n' \
		"$VIDEO_SECONDS" "$VIDEO_KBPS" "$VBYTES" "$VSEED_RATE" "$VIDEO_PLAY" "$((VBYTES / 1000000))"
	printf '%-22s %9s %9s %6s %6s %6s %9s %7s %8s %8s %7s\n' client "1st frame" "stall" "seek1" "seek2" "seek3" "MB disk" errors "MB read" "MB asked" within
	printf '%-22s %9s %9s %6s %6s %6s %9s %7s %8s %8s %7s\n' ------ --------- ----- ----- ----- ----- ------- ------ ------- -------- ------
	video_row this "this client (-torfs)"
	video_row lazy "this client (-lazy)"
	video_row btfs "btfs $(dpkg-query -W -f '${Version}' btfs 2>/dev/null)"
}
