package cluster

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// TestSecretPolicy: random secrets pass; short ones, text, and patterns are
// refused with ErrWeakSecret and a message that says how to make a good one.
func TestSecretPolicy(t *testing.T) {
	random := NewSecret()
	for _, tc := range []struct {
		name   string
		secret []byte
		ok     bool
	}{
		{"32 random bytes", random, true},
		{"16 random bytes", random[:16], true},
		{"15 bytes", random[:15], false},
		{"a password", []byte("correct horse battery staple"), false},
		{"base64 not decoded", []byte(base64.StdEncoding.EncodeToString(random)), false},
		{"hex not decoded", []byte(hex.EncodeToString(random)), false},
		{"all zero", make([]byte, 32), false},
		{"a pattern", bytes.Repeat([]byte{0x01, 0xfe, 0x80, 0x99}, 8), false},
		{"a counter", func() []byte {
			b := make([]byte, 32)
			for i := range b {
				b[i] = byte(i % 8)
			}
			return b
		}(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkSecret(tc.secret)
			switch {
			case tc.ok && err != nil:
				t.Errorf("refused: %v", err)
			case !tc.ok && !errors.Is(err, ErrWeakSecret):
				t.Errorf("got %v, want ErrWeakSecret", err)
			case !tc.ok && !bytes.Contains([]byte(err.Error()), []byte("NewSecret")):
				t.Errorf("%v: does not say how to make a good secret", err)
			}
		})
	}
	// ParseSecret decodes first: base64 of random bytes passes, base64 of a
	// password does not.
	if _, err := ParseSecret(EncodeSecret(random)); err != nil {
		t.Errorf("ParseSecret(random): %v", err)
	}
	if _, err := ParseSecret("not base64!!"); err == nil || !strings.Contains(err.Error(), "NewSecret") {
		t.Errorf("ParseSecret(not base64) = %v, want an error saying how to make one", err)
	}
	if _, err := ParseSecret(base64.StdEncoding.EncodeToString([]byte("my very secret password"))); !errors.Is(err, ErrWeakSecret) {
		t.Errorf("ParseSecret(base64 of a password) = %v, want ErrWeakSecret", err)
	}
	// Passphrases that are valid base64 themselves, and decode to bytes that
	// look random (a stranger's review found the first three accepted).
	for _, text := range []string{
		"CompanyName2026ProductionCluster", "mysupersecretclusterpassword", "hunter2hunter2hunter2hunter2",
		"correct-horse-battery-staple-correct-horse-battery",
		base64.StdEncoding.EncodeToString(random[:16]), // random, but 16 bytes written as text
	} {
		if _, err := ParseSecret(text); !errors.Is(err, ErrWeakSecret) || !strings.Contains(err.Error(), "NewSecret") {
			t.Errorf("ParseSecret(%q) = %v, want ErrWeakSecret saying how to make one", text, err)
		}
	}
}

// TestRandomTextPasses: ParseSecret takes every one of many fresh random
// secrets, however written: its rules for text refuse too rarely to matter.
func TestRandomTextPasses(t *testing.T) {
	for range 20000 {
		s := NewSecret()
		for _, text := range []string{EncodeSecret(s), base64.StdEncoding.EncodeToString(s)} {
			if _, err := ParseSecret(text); err != nil {
				t.Fatalf("ParseSecret(%q): %v", text, err)
			}
		}
	}
}

// TestRandomSecretsPass: a thousand fresh random secrets of 16 and of 32
// bytes all pass: the policy refuses by chance too rarely to matter.
func TestRandomSecretsPass(t *testing.T) {
	for range 1000 {
		s := NewSecret()
		if err := checkSecret(s); err != nil {
			t.Fatalf("random secret refused: %v", err)
		}
		if err := checkSecret(s[:16]); err != nil {
			t.Fatalf("random 16-byte secret refused: %v", err)
		}
	}
}
