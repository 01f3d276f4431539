package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/torrent-dev/torrent/host/hostapi"
	"github.com/torrent-dev/torrent/proto/hostpb"
	"github.com/torrent-dev/torrent/sdk"
)

// controlSocket is where a running client serves its host API to
// `torrent status` and `torrent stop`: in its directory, for its user only,
// never on the network.
const controlSocket = ".torrent.sock"

// maxSocketPath is the kernel's limit on a unix socket path (sun_path).
const maxSocketPath = 107

func controlPath(dir string) (string, error) {
	abs, err := filepath.Abs(filepath.Join(dir, controlSocket))
	if err != nil {
		return "", err
	}
	if len(abs) > maxSocketPath {
		return "", fmt.Errorf("socket path %s is longer than %d bytes", abs, maxSocketPath)
	}
	return abs, nil
}

// serveControl serves api on the directory's control socket until the
// returned func. A socket left by a killed client is replaced; one that
// answers belongs to another client running here, and then this one says
// so and serves nothing (status and stop reach the other).
func serveControl(dir string, api *hostapi.Server, log hclog.Logger) (stop func()) {
	path, err := controlPath(dir)
	if err != nil {
		log.Warn("torrent status and stop will not reach this client", "error", err)
		return func() {}
	}
	ln, err := listenControl(path)
	if errors.Is(err, syscall.EADDRINUSE) {
		if name, pid, live := probeControl(path); live {
			log.Warn("another client runs in this directory: torrent status and stop reach it, not this one",
				"dir", dir, "other", name, "pid", pid)
			return func() {}
		}
		os.Remove(path) // stale: its client is gone
		ln, err = listenControl(path)
	}
	if err != nil {
		log.Warn("torrent status and stop will not reach this client", "error", err)
		return func() {}
	}
	gs := grpc.NewServer(grpc.MaxSendMsgSize(sdk.MaxMessageSize))
	hostpb.RegisterHostServer(gs, api)
	done := make(chan struct{})
	go func() { defer close(done); gs.Serve(ln) }()
	return func() {
		api.EndWatches()
		gs.Stop() // closes the listener, which removes the socket file
		<-done
	}
}

// listenControl creates the socket with mode 0600 from the start.
func listenControl(path string) (net.Listener, error) {
	old := syscall.Umask(0o177)
	defer syscall.Umask(old)
	return net.Listen("unix", path)
}

// probeControl asks a socket's client for its torrent's name; live says
// whether anything answered.
func probeControl(path string) (name string, pid int, live bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := dialControl(path)
	if err != nil {
		return "", 0, false
	}
	defer c.Close()
	u, err := firstUpdate(ctx, c)
	if err != nil {
		return "", 0, false
	}
	return u.GetTorrent().GetName(), int(c.pid.Load()), true
}

// controlConn is a connection to the client serving a control socket.
type controlConn struct {
	hostpb.HostClient
	conn *grpc.ClientConn
	pid  atomic.Int32 // the client's process, from the socket's peer credentials
}

func (c *controlConn) Close() { c.conn.Close() }

// dialControl connects to the client serving path.
func dialControl(path string) (*controlConn, error) {
	c := &controlConn{}
	dial := func(ctx context.Context, _ string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, "unix", path)
		if err != nil {
			return nil, err
		}
		if raw, err := conn.(*net.UnixConn).SyscallConn(); err == nil {
			raw.Control(func(fd uintptr) {
				if cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
					c.pid.Store(cred.Pid)
				}
			})
		}
		return conn, nil
	}
	conn, err := grpc.NewClient("passthrough:///control", grpc.WithContextDialer(dial),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(sdk.MaxMessageSize)))
	if err != nil {
		return nil, err
	}
	c.HostClient, c.conn = hostpb.NewHostClient(conn), conn
	return c, nil
}

// firstUpdate returns the client's first update: the whole picture,
// torrent included.
func firstUpdate(ctx context.Context, c *controlConn) (*hostpb.Update, error) {
	st, err := c.Watch(ctx, &hostpb.WatchRequest{MaxRate: 1})
	if err != nil {
		return nil, err
	}
	return st.Recv()
}
