# shellcheck shell=bash
# bench/ui-idle.sh: case 7 of bench/run (sourced by it), the terminal UI's
# idle cost. The client seeds the complete data with -g in a detached tmux
# (100x30) and no peer; once the start-up check is over and the screen says
# "complete · seeding", the CPU time (user+sys, /proc/PID/stat) of the UI
# plugin process and of the host process is read over UI_SECONDS. The UI
# asks the host for 4 updates a second and redraws on each. Goal: the UI
# plugin under 1% of a core.

UI_SECONDS=${UI_SECONDS:-20}

# cpu_ticks PID: user+sys clock ticks of PID so far.
cpu_ticks() { awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }

case7() {
	local r sock=torrent-bench-$$ pid ui host a_ui a_host b_ui b_host hz ok
	hz=$(getconf CLK_TCK)
	TMUX_SOCK_=$sock # cleanup ends this tmux server
	for r in $(seq "$ROUNDS"); do
		say "case 7 round $r: -g seeding, idle, ${UI_SECONDS}s"
		ok=0
		tmux -L "$sock" new-session -d -x 100 -y 30 \
			"$THIS -g -seed=true -log $WORK/c7.log -dht=false -lsd=false -up-rate 0 -port $(free_port) -dir $WORK/src $WORK/x.torrent"
		for _ in $(seq 1200); do
			tmux -L "$sock" capture-pane -p 2>/dev/null | grep -q 'complete · seeding' && break
			sleep 0.1
		done
		pid=$(pgrep -f -n -- "^$THIS -g -seed=true -log $WORK/c7.log" || true)
		ui=$(pgrep -P "${pid:-0}" -f -- "$THIS-ui-term" || true)
		if [ -z "$pid" ] || [ -z "$ui" ]; then
			say "  no client or no UI plugin process: $(tmux -L "$sock" capture-pane -p 2>/dev/null | head -3)"
			ok=1
		else
			sleep 2 # the first full frames are not idle
			a_ui=$(cpu_ticks "$ui") a_host=$(cpu_ticks "$pid")
			sleep "$UI_SECONDS"
			b_ui=$(cpu_ticks "$ui") b_host=$(cpu_ticks "$pid")
			echo "$(awk -v a="$a_ui" -v b="$b_ui" -v hz="$hz" -v s="$UI_SECONDS" 'BEGIN {print 100 * (b - a) / hz / s}') \
$(awk -v a="$a_host" -v b="$b_host" -v hz="$hz" -v s="$UI_SECONDS" 'BEGIN {print 100 * (b - a) / hz / s}')" >>"$WORK/c7.res"
			tmux -L "$sock" send-keys q
			for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		fi
		tmux -L "$sock" kill-server 2>/dev/null || true
		[ "$ok" = 0 ] || echo fail >>"$WORK/c7.res"
	done
	echo
	echo "7. idle terminal UI: -g seeding $SIZE with no peer, in tmux 100x30, 4 updates/s; CPU over ${UI_SECONDS}s"
	if ! grep -qv fail "$WORK/c7.res" 2>/dev/null; then
		echo "   FAIL"
		return
	fi
	printf '   ui-term plugin: %.2f%% of a core (median of %s: %s; goal < 1%%); host process: %.2f%%\n' \
		"$(grep -v fail "$WORK/c7.res" | awk '{print $1}' | median)" "$(grep -vc fail "$WORK/c7.res")" \
		"$(grep -v fail "$WORK/c7.res" | awk '{printf "%s%.2f%%", (NR > 1 ? " " : ""), $1}')" \
		"$(grep -v fail "$WORK/c7.res" | awk '{print $2}' | median)"
}
