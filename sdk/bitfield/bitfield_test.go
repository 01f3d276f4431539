package bitfield

import "testing"

func TestSetHasCount(t *testing.T) {
	t.Parallel()
	f := New(10)
	for _, i := range []int{0, 7, 9, -1, 10} {
		f.Set(i)
	}
	if got := f.Count(); got != 3 {
		t.Fatalf("Count = %d, want 3", got)
	}
	if !f.Has(9) || f.Has(8) || f.Has(10) || f.Has(-1) {
		t.Fatalf("Has wrong: % x", f.Bytes())
	}
	f.Clear(9)
	if f.Has(9) {
		t.Fatal("Clear(9) left it set")
	}
	f.SetAll()
	if !f.Full() || f.Bytes()[1] != 0xc0 {
		t.Fatalf("SetAll: % x", f.Bytes())
	}
}

func TestFromBytes(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in      []byte
		n       int
		wantErr bool
	}{
		"ok":          {[]byte{0xff, 0xc0}, 10, false},
		"spare bits":  {[]byte{0xff, 0xe0}, 10, true},
		"short":       {[]byte{0xff}, 10, true},
		"long":        {[]byte{0xff, 0, 0}, 10, true},
		"exact bytes": {[]byte{0x01}, 8, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f, err := FromBytes(tc.in, tc.n)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && f.Len() != tc.n {
				t.Fatalf("Len = %d", f.Len())
			}
		})
	}
}
