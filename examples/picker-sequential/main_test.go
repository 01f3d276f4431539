package main

import (
	"testing"

	"github.com/torrent-dev/torrent/sdk/pickertest"
)

func TestConformance(t *testing.T) { pickertest.Run(t, sequential{}) }
