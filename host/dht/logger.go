package dht

import (
	alog "github.com/anacrolix/log"
	"github.com/hashicorp/go-hclog"
)

// anacrologger routes the library's log to ours, one level down: its Info
// is chatter for a client.
func anacrologger(l hclog.Logger) alog.Logger {
	al := alog.NewLogger("dht").WithFilterLevel(alog.Debug)
	al.Handlers = []alog.Handler{hclogHandler{l.Named("dht")}}
	return al
}

type hclogHandler struct{ l hclog.Logger }

func (h hclogHandler) Handle(r alog.Record) {
	msg := r.Msg.String()
	switch {
	case !r.Level.LessThan(alog.Warning):
		h.l.Warn(msg)
	case !r.Level.LessThan(alog.Info):
		h.l.Debug(msg)
	default:
		h.l.Trace(msg)
	}
}
