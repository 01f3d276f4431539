package main

import (
	"math/rand/v2"
	"testing"

	"github.com/torrent-dev/torrent/sdk/pickertest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	pickertest.Run(t, &randomPicker{rng: rand.New(rand.NewPCG(1, 2))})
}
