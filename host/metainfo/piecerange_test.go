package metainfo

import "testing"

func TestPieceRange(t *testing.T) {
	t.Parallel()
	info := &Info{PieceLength: 10, Length: 35}
	for _, tc := range []struct {
		off, n      int64
		first, last int
	}{
		{0, 1, 0, 0}, {0, 10, 0, 0}, {0, 11, 0, 1}, {9, 2, 0, 1}, {30, 5, 3, 3}, {12, 0, 0, -1}, {12, -3, 0, -1},
	} {
		if f, l := info.PieceRange(tc.off, tc.n); f != tc.first || l != tc.last {
			t.Errorf("PieceRange(%d, %d) = %d, %d; want %d, %d", tc.off, tc.n, f, l, tc.first, tc.last)
		}
	}
	has := func(i int) bool { return i != 2 }
	if !info.HasRange(0, 20, has) || info.HasRange(15, 10, has) || !info.HasRange(25, 0, has) {
		t.Error("HasRange: want [0,20) held, [15,25) not (piece 2), an empty range held")
	}
}
