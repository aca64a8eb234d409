package store

import (
	"bytes"
	"testing"
	"time"
)

func TestRecordRoundTrip(t *testing.T) {
	r := Record{
		Value:      bytes.Repeat([]byte{0xab}, 57),
		ServerName: "a.example",
		Created:    time.Unix(1764158400, 0),
		Expires:    time.Unix(1764244800, 123),
		Returning:  true,
	}
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("a TLS 1.3 session record is %d bytes", len(b))
	var got Record
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Value, r.Value) || got.ServerName != r.ServerName ||
		!got.Created.Equal(r.Created) || !got.Expires.Equal(r.Expires) || !got.Returning {
		t.Errorf("round trip: %+v, want %+v", got, r)
	}
	// A record from a member that wrote no flags (the first layout, five
	// fields) decodes as an ordinary session.
	old := append([]byte{0x95}, b[1:len(b)-2]...) // the flags are the last two bytes: 0xcc 0x01
	if err := got.UnmarshalBinary(old); err != nil || got.Returning || !got.Expires.Equal(r.Expires) {
		t.Errorf("a five-field record: %+v, %v", got, err)
	}
	b[len(b)-3] ^= 0xff // corrupt the expiry's last byte: still well-formed
	b = append(b, 0)    // a trailing byte is not
	if err := got.UnmarshalBinary(b); err == nil {
		t.Error("accepted a record with a trailing byte")
	}
}

// FuzzRecord feeds arbitrary bytes to the record decoder, as a peer on
// another version, or a corrupted one, could send. It must never panic, and
// a record it accepts must survive re-encoding unchanged.
func FuzzRecord(f *testing.F) {
	r := Record{Value: make([]byte, 57), ServerName: "a.example", Created: time.Unix(1, 0), Expires: time.Unix(2, 0)}
	b, _ := r.MarshalBinary()
	f.Add(b)
	f.Add([]byte{0x96, 0x02, 0xc4, 0x00, 0xa0, 0xd6, 0xff, 0, 0, 0, 1, 0xd6, 0xff, 0, 0, 0, 2, 0xc0}) // a newer version
	f.Add([]byte{0x95, 0x01, 0xc6, 0xff, 0xff, 0xff, 0xff})                                           // a lying length
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Record
		if err := r.UnmarshalBinary(b); err != nil {
			return
		}
		b2, err := r.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		var r2 Record
		if err := r2.UnmarshalBinary(b2); err != nil || !bytes.Equal(r2.Value, r.Value) ||
			r2.ServerName != r.ServerName || !r2.Created.Equal(r.Created) || !r2.Expires.Equal(r.Expires) || r2.Returning != r.Returning {
			t.Fatalf("re-encoded record differs: %+v vs %+v (%v)", r2, r, err)
		}
	})
}

// FuzzEntryHeader checks that decodeHeader, which skips the value, accepts
// and refuses exactly what decodeEntry does, and reads the same header.
func FuzzEntryHeader(f *testing.F) {
	e := entry{version: version{counter: 7, writer: 9}, expires: time.Unix(2, 0), value: make([]byte, 2048)}
	f.Add(e.encode())
	e.deleted, e.value = true, nil
	f.Add(e.encode())
	f.Add([]byte{0x96, 0x01, 0x01, 0x01, 0x00, 0xd6, 0xff, 0, 0, 0, 1, 0xc6, 0xff, 0xff, 0xff, 0xff}) // a lying length
	f.Fuzz(func(t *testing.T, b []byte) {
		full, ferr := decodeEntry(b)
		head, herr := decodeHeader(b)
		if (ferr == nil) != (herr == nil) {
			t.Fatalf("decodeEntry: %v, decodeHeader: %v", ferr, herr)
		}
		if head.value != nil || head.version != full.version || head.deleted != full.deleted || !head.expires.Equal(full.expires) {
			t.Fatalf("header %+v, entry %+v", head, full)
		}
	})
}
