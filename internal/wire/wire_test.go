package wire

import (
	"bytes"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

func encode(t *testing.T, fields ...any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.EncodeArrayLen(len(fields))
	for _, f := range fields {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestReader(t *testing.T) {
	when := time.Date(2026, 11, 26, 12, 0, 0, 5, time.UTC)
	b := encode(t, uint64(1<<40), 7, []byte("bin"), "str", when)
	var r Reader
	r.Open(b, 5)
	if got := r.Uint64(); got != 1<<40 {
		t.Errorf("Uint64 = %d", got)
	}
	if got := r.Uint8(); got != 7 {
		t.Errorf("Uint8 = %d", got)
	}
	if got := r.Bytes(10); string(got) != "bin" {
		t.Errorf("Bytes = %q", got)
	}
	if got := r.String(10); got != "str" {
		t.Errorf("String = %q", got)
	}
	if got := r.Time(); !got.Equal(when) {
		t.Errorf("Time = %v", got)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNewerVersionFieldsAreSkipped(t *testing.T) {
	var r Reader
	r.Open(encode(t, 1, map[string]int{"future": 1}, []any{"x", 2}), 1)
	if r.Uint8() != 1 || r.Close() != nil {
		t.Fatal("could not read a longer array")
	}
}

func TestMalformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		read func(*Reader)
	}{
		{"too few fields", encode(t, 1), func(r *Reader) { r.Uint8(); r.Uint8() }},
		{"not an array", []byte{0x01}, func(r *Reader) {}},
		{"byte over uint8", encode(t, 300, 0), func(r *Reader) { r.Uint8(); r.Uint8() }},
		{"bytes over max", encode(t, []byte("12345"), 0), func(r *Reader) { r.Bytes(4); r.Uint8() }},
		// A bin32 that claims 4 GiB: must fail without allocating it.
		{"lying length", []byte{0x92, 0xc6, 0xff, 0xff, 0xff, 0xff, 0x01}, func(r *Reader) { r.Bytes(1 << 40); r.Uint8() }},
		{"trailing bytes", append(encode(t, 1, 2), 0x00), func(r *Reader) { r.Uint8(); r.Uint8() }},
		{"truncated", encode(t, 1, "abcdef")[:5], func(r *Reader) { r.Uint8(); r.String(10) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Reader
			r.Open(tc.b, 2)
			tc.read(&r)
			if err := r.Close(); err != ErrMalformed {
				t.Errorf("Close = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestLyingLengthAllocatesNothing(t *testing.T) {
	b := []byte{0x91, 0xc6, 0x7f, 0xff, 0xff, 0xff}
	var r Reader
	allocs := testing.AllocsPerRun(10, func() {
		r.Open(b, 1)
		r.Bytes(1 << 40)
		r.Close()
	})
	if allocs > 2 {
		t.Errorf("%v allocations for a lying length", allocs)
	}
}

func TestOptionalAndNested(t *testing.T) {
	b := encode(t, 1, []any{"x", "y"}, map[string]string{"k": "v"}, int64(-5))
	var r Reader
	r.Open(b, 1)
	r.Uint8()
	if !r.Optional() || r.ArrayLen(10) != 2 || r.String(5) != "x" || r.String(5) != "y" {
		t.Fatal("nested array")
	}
	if !r.Optional() || r.MapLen(10) != 1 || r.String(5) != "k" || r.String(5) != "v" {
		t.Fatal("map")
	}
	if !r.Optional() || r.Int64() != -5 || r.Optional() {
		t.Fatal("int64")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// Lengths beyond the limit, or beyond what the input could hold, fail.
	r.Open(encode(t, []int{1, 2, 3}), 1)
	r.ArrayLen(2)
	if r.Close() == nil {
		t.Error("array over its limit accepted")
	}
	r.Open([]byte{0x91, 0xdd, 0x7f, 0xff, 0xff, 0xff}, 1)
	r.ArrayLen(1 << 40)
	if r.Close() == nil {
		t.Error("array longer than the input accepted")
	}
}
