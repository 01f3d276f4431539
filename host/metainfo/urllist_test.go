package metainfo

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestURLList(t *testing.T) {
	t.Parallel()
	info := map[string]any{"name": "a", "piece length": int64(16), "pieces": "xxxxxxxxxxxxxxxxxxxx", "length": int64(1)}
	for name, c := range map[string]struct {
		list      any
		raw, want []string
	}{
		"one string":   {"http://h/a", []string{"http://h/a"}, []string{"http://h/a"}},
		"a list":       {[]any{"http://h/a", "https://g/"}, []string{"http://h/a", "https://g/"}, []string{"http://h/a", "https://g/"}},
		"unusable":     {[]any{"ftp://h/a", "http://h/a", "nonsense", "http://h/a"}, []string{"ftp://h/a", "http://h/a", "nonsense", "http://h/a"}, []string{"http://h/a"}},
		"odd elements": {[]any{int64(3), []any{"http://h/x"}, "", "http://h/b"}, []string{"http://h/b"}, []string{"http://h/b"}},
		"a number":     {int64(7), nil, nil},
		"empty string": {"", nil, nil},
		"a dict":       {map[string]any{"u": "http://h/"}, nil, nil},
	} {
		m, err := Parse(enc(t, map[string]any{"info": info, "url-list": c.list}))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(c.raw, m.URLList) {
			t.Errorf("%s: URLList %q, want %q", name, m.URLList, c.raw)
		}
		if !slices.Equal(c.want, m.WebSeeds()) {
			t.Errorf("%s: WebSeeds %q, want %q", name, m.WebSeeds(), c.want)
		}
	}
}

func TestCreateWithWebSeeds(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	seeds := []string{"http://127.0.0.1:8000/f", "https://mirror.example/pub/"}
	data, err := Create(p, CreateOptions{WebSeeds: seeds})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seeds, m.WebSeeds()) {
		t.Fatalf("web seeds %q, want %q", m.WebSeeds(), seeds)
	}
}
