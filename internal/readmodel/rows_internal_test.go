package readmodel

import (
	"encoding/json"
	"reflect"
	"testing"
)

// stringList writes and reads most lists by hand, for speed; what it
// writes and reads must stay exactly what encoding/json would.
func FuzzStringList(f *testing.F) {
	for _, s := range []string{"", "pricing", `say "hi"`, `back\slash`, "<b>&</b>", "née", "tab\there",
		"line\u2028sep", "nul\x00", "bad\xffutf8", "del\x7f"} {
		f.Add(s, "ux")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, l := range []stringList{nil, {}, {a}, {a, b}, {b, a, b}} {
			want, err := json.Marshal([]string(l))
			if err != nil {
				t.Fatal(err)
			}
			if l == nil {
				want = []byte("[]")
			}
			if got := l.text(); got != string(want) {
				t.Fatalf("stringList(%q).text() = %s, want %s", []string(l), got, want)
			}
			var wantBack []string
			if err := json.Unmarshal(want, &wantBack); err != nil {
				t.Fatal(err)
			}
			for _, src := range []any{string(want), want} {
				var back stringList
				if err := back.Scan(src); err != nil {
					t.Fatalf("Scan(%s): %v", want, err)
				}
				if !reflect.DeepEqual([]string(back), wantBack) {
					t.Fatalf("Scan(%s) = %#v, want %#v", want, back, wantBack)
				}
			}
		}
	})
}

func TestParsePlainListRejectsWhatItCannotRead(t *testing.T) {
	for _, s := range []string{``, `[`, `["a"`, `["a",]`, `["a" ,"b"]`, `[ "a"]`, `["a\"b"]`, `["a","b"`,
		`[1]`, `["é"]`, `{"a":1}`, `["a"]x`, `["a""b"]`} {
		if got, ok := parsePlainList([]byte(s)); ok {
			t.Errorf("parsePlainList(%s) = %#v, true; want false", s, got)
		}
	}
}
