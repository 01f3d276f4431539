package sdk

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/torrent-dev/torrent/proto/fspb"
	"github.com/torrent-dev/torrent/proto/hostpb"
	"github.com/torrent-dev/torrent/proto/pickerpb"
	"github.com/torrent-dev/torrent/proto/uipb"
)

// debugStartBound only guards against a hang: a plugin prints its reattach
// line as soon as it listens, far sooner on any machine.
const debugStartBound = 2 * time.Minute

// debugPlugin runs main, a plugin's whole main (ServePicker, ServeUI,
// ServeFS), in this process in debug mode as an author runs it under a
// debugger. It returns what main printed and the host's side reattached
// through the line printed, as the client's -KIND-reattach flag does.
// stop ends main with a signal, the author's ctrl-c, and waits for it to
// return; cleanup does the same with SIGTERM if the test has not.
func debugPlugin(t *testing.T, kind string, main func()) (printed string, r Reattach, hs hostSide, stop func(os.Signal)) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	// serveDebug prints on os.Stdout; nothing else in this serial test does.
	saved := os.Stdout
	os.Stdout = pw
	done := make(chan struct{})
	go func() {
		defer close(done)
		main()
	}()
	out := make(chan string, 1)
	go func() {
		var b []byte
		buf := make([]byte, 4096)
		for {
			n, err := pr.Read(buf)
			b = append(b, buf[:n]...)
			// The whole message is one write, ending in a newline.
			if err != nil || strings.Contains(string(b), "reattach '") && strings.HasSuffix(string(b), "\n") {
				out <- string(b)
				return
			}
		}
	}()
	select {
	case printed = <-out:
	case <-done:
		os.Stdout = saved
		t.Fatal("Serve returned before it printed a reattach line")
	case <-time.After(debugStartBound):
		os.Stdout = saved
		t.Fatal("no reattach line")
	}
	os.Stdout = saved
	var once sync.Once
	stop = func(sig os.Signal) {
		once.Do(func() {
			// Only a Serve that printed its line has its signal handler
			// installed: the signal cannot end the test process.
			if err := syscall.Kill(os.Getpid(), sig.(syscall.Signal)); err != nil {
				t.Errorf("signal: %v", err)
			}
			<-done
		})
	}
	t.Cleanup(func() { stop(syscall.SIGTERM) })
	m := regexp.MustCompile(`-` + kind + `-reattach '(\{[^']*\})'`).FindStringSubmatch(printed)
	if m == nil {
		t.Fatalf("printed %q: no -%s-reattach line", printed, kind)
	}
	if r, err = ParseReattach(m[1]); err != nil {
		t.Fatal(err)
	}
	rc, err := r.Config()
	if err != nil {
		t.Fatal(err)
	}
	sets := map[int]plugin.PluginSet{r.Version: {kind: testPlugin{}}}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: sets,
		Plugins:          sets[r.Version],
		Reattach:         rc,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.NewNullLogger(),
	})
	rpc, err := client.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rpc.Close() }) // runs before stop: cleanups run last first
	raw, err := rpc.Dispense(kind)
	if err != nil {
		t.Fatal(err)
	}
	return printed, r, raw.(hostSide), stop
}

// A plugin of each kind started by hand in debug mode prints the client's
// command line that attaches to it, naming its own kind's flag; the host
// reattached through that line uses the plugin as one it started; ctrl-c
// (SIGINT) or SIGTERM ends Serve, and Serve returns rather than exiting.
// The pickers' older variable still puts a picker in debug mode.
func TestServeDebugMode(t *testing.T) {
	fs := &mounter{}
	tests := map[string]struct {
		kind, env string
		sig       syscall.Signal
		usage     []string // in what the plugin prints
		main      func()
		use       func(t *testing.T, hs hostSide)
	}{
		"picker": {
			kind: PickerKind, env: PickerDebugEnv, sig: syscall.SIGINT,
			usage: []string{"picker plugin running in debug mode", "torrent -picker-reattach '{", "}' FILE.torrent"},
			main:  func() { ServePicker(&recorder{}, WithName("dbg"), WithLogger(hclog.NewNullLogger())) },
			use:   usePicker,
		},
		"ui": {
			kind: UIKind, env: DebugEnv, sig: syscall.SIGTERM,
			usage: []string{"ui plugin running in debug mode", "torrent -g -ui-reattach '{"},
			main:  func() { ServeUI(&watcher{}, WithLogger(hclog.NewNullLogger())) },
			use:   useUI,
		},
		"torfs": {
			kind: FSKind, env: DebugEnv, sig: syscall.SIGINT,
			usage: []string{"torfs plugin running in debug mode", "torrent -torfs MOUNTPOINT -torfs-reattach '{", "or: torrent mount -torfs-reattach '{"},
			main:  func() { ServeFS(fs, WithLogger(hclog.NewNullLogger())) },
			use: func(t *testing.T, hs hostSide) {
				useFS(t, hs)
				if fs.mnt != "/mnt" || !fs.unmounted || fs.errs["read"] != nil {
					t.Fatalf("the plugin saw mountpoint %q, unmounted %v, read error %v", fs.mnt, fs.unmounted, fs.errs["read"])
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Setenv(DebugEnv, "")
			t.Setenv(PickerDebugEnv, "")
			t.Setenv(tc.env, "1")
			// A debug-mode plugin has no host to tie its life to, even
			// when a host's cookie is in its environment.
			t.Setenv(Handshake.MagicCookieKey, Handshake.MagicCookieValue)
			printed, r, hs, stop := debugPlugin(t, tc.kind, tc.main)
			for _, u := range tc.usage {
				if !strings.Contains(printed, u) {
					t.Errorf("printed %q, want %q in it", printed, u)
				}
			}
			if r.Kind != tc.kind || r.Pid != os.Getpid() || r.Version != 1 {
				t.Fatalf("reattach %+v, want kind %s, this process, version 1", r, tc.kind)
			}
			tc.use(t, hs)
			stop(tc.sig)
		})
	}
}

// usePicker checks a reattached picker: its name, and a session's picks.
func usePicker(t *testing.T, hs hostSide) {
	c := pickerpb.NewPickerClient(hs.conn)
	caps, err := c.Capabilities(context.Background(), &pickerpb.CapabilitiesRequest{HostProtocol: PickerProtocol})
	if err != nil || caps.Name != "dbg" {
		t.Fatalf("capabilities %v, %v; want the name given WithName", caps, err)
	}
	st, err := c.Session(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	snap := &pickerpb.Snapshot{Torrent: testTorrent, Have: bits(10).Bytes(), Peers: []*pickerpb.PeerBitfield{{Peer: 4, Have: bits(10, 2, 8).Bytes()}}}
	if err := st.Send(&pickerpb.Batch{Seq: 1, Snapshot: snap, Want: []*pickerpb.Want{{Peer: 4, Count: 5}}}); err != nil {
		t.Fatal(err)
	}
	if p, err := st.Recv(); err != nil || p.Seq != 1 || len(p.Peers) != 1 || !slices.Equal(p.Peers[0].Pieces, []uint32{2, 8}) {
		t.Fatalf("picks %v, %v; want seq 1, peer 4: [2 8]", p, err)
	}
	st.CloseSend()
}

// useUI runs a reattached UI against a host API with one update.
func useUI(t *testing.T, hs hostSide) {
	host := &fakeHost{quit: make(chan struct{}), updates: []*hostpb.Update{{Torrent: hostTorrent, Have: bits(2, 0).Bytes()}}}
	id := serveHost(hs, host)
	if _, err := uipb.NewUIClient(hs.conn).Run(context.Background(), &uipb.RunRequest{HostBrokerId: id}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-host.quit:
	default:
		t.Fatal("the UI's Quit never reached the host")
	}
}

// useFS mounts and unmounts a reattached filesystem plugin.
func useFS(t *testing.T, hs hostSide) {
	c := fspb.NewFSClient(hs.conn)
	id := serveHost(hs, &fakeHost{})
	if _, err := c.Mount(context.Background(), &fspb.MountRequest{HostBrokerId: id, Mountpoint: "/mnt"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Unmount(context.Background(), &fspb.UnmountRequest{}); err != nil {
		t.Fatal(err)
	}
}
