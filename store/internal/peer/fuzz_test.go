package peer

import (
	"bytes"
	"testing"
)

// FuzzDecodeRequest feeds arbitrary bytes to the request decoder, as an
// authenticated but buggy or hostile peer could. It must never panic, and a
// frame it accepts must survive re-encoding unchanged.
func FuzzDecodeRequest(f *testing.F) {
	w := newFrameWriter()
	for _, r := range []Request{
		{ID: 1, Op: OpGet, Key: "0123456789abcdef0123456789abcdef"},
		{ID: 2, Op: OpPut, Key: "k", Value: []byte("value")},
		{ID: 1 << 40, Op: OpDelete},
		{ID: 3, Op: OpWebPut, Key: "k", Value: []byte("copy"), Ring: 0xfeedface},
	} {
		b, _ := w.request(&r)
		f.Add(bytes.Clone(b[4:]))
	}
	f.Add([]byte{0x95, 1, 1, 0xc4, 0, 0xc4, 0, 0xc0}) // an extra field from a newer version
	// A key claiming 2.9 GB: msgpack's DecodeBytes would allocate it all.
	f.Add([]byte("\x95\x02\x08\xc6\xaf\x40\xaf\xaf\xaf0\xc6"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeRequest(body)
		if err != nil {
			return
		}
		b, err := newFrameWriter().request(&r)
		if err != nil {
			t.Fatalf("decoded request does not encode: %v", err)
		}
		r2, err := DecodeRequest(b[4:])
		if err != nil || r2.ID != r.ID || r2.Op != r.Op || r2.Key != r.Key || !bytes.Equal(r2.Value, r.Value) || r2.Ring != r.Ring {
			t.Fatalf("re-encoded request differs: %+v vs %+v (%v)", r2, r, err)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	w := newFrameWriter()
	for _, r := range []Response{
		{ID: 1, Status: StatusOK, Value: []byte("session")},
		{ID: 2, Status: StatusNotFound},
	} {
		b, _ := w.response(&r)
		f.Add(bytes.Clone(b[4:]))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeResponse(body)
		if err != nil {
			return
		}
		b, err := newFrameWriter().response(&r)
		if err != nil {
			t.Fatalf("decoded response does not encode: %v", err)
		}
		r2, err := DecodeResponse(b[4:])
		if err != nil || r2.ID != r.ID || r2.Status != r.Status || !bytes.Equal(r2.Value, r.Value) {
			t.Fatalf("re-encoded response differs: %+v vs %+v (%v)", r2, r, err)
		}
	})
}
