package pick

import (
	"testing"

	"github.com/torrent-dev/torrent/sdk/pickertest"
)

func TestRarestFirstConformance(t *testing.T) {
	t.Parallel()
	pickertest.Run(t, NewRarestFirst())
}
