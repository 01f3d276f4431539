// Package sdk is what a plugin imports: plain Go types for what the host
// shows each plugin kind, the interface each kind implements (Picker, UI,
// FS) and its Serve (ServePicker, ServeUI, ServeFS), a plugin's whole
// main. Generated protobuf types stay behind these.
package sdk

import (
	"github.com/hashicorp/go-plugin"
)

// Protocol versions, negotiated in the go-plugin handshake
// (VersionedPlugins). A host speaks every version it lists; a plugin serves
// the one it was built with.
const (
	PickerProtocol = 1
	// PickerKind is the plugin kind name: executables are torrent-picker-NAME.
	PickerKind = "picker"
)

// Handshake is shared by the host and every plugin. It is not a security
// measure: it stops a plugin binary run by hand from waiting forever.
var Handshake = plugin.HandshakeConfig{
	MagicCookieKey:   "TORRENT_PLUGIN_COOKIE",
	MagicCookieValue: "c0d3b2a3-6a4c-4d6e-9a47-torrent-plugins",
}

// MaxMessageSize bounds one gRPC message either way; bitfields of huge
// torrents must fit.
const MaxMessageSize = 64 << 20
