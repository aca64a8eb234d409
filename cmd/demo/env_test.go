package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/internal/selfsigned"
)

// TestNodeEnv: the secret and certificate the runner puts in a node's
// environment are the ones the node reads back, and they replace any the
// runner inherited.
func TestNodeEnv(t *testing.T) {
	secret := cluster.NewSecret()
	cert, _, err := selfsigned.New()
	if err != nil {
		t.Fatal(err)
	}
	inherited := []string{"PATH=/bin", envSecret + "=stale", envCert + "=stale"}
	env, err := nodeEnv(inherited, secret, cert)
	if err != nil {
		t.Fatal(err)
	}
	vars := make(map[string]string)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := vars[k]; dup {
			t.Errorf("%s set twice", k)
		}
		vars[k] = v
	}
	if vars["PATH"] != "/bin" {
		t.Errorf("PATH = %q, want it kept", vars["PATH"])
	}
	getenv := func(k string) string { return vars[k] }

	gotSecret, err := secretFromEnv(getenv)
	if err != nil || !bytes.Equal(gotSecret, secret) {
		t.Errorf("secretFromEnv = %x, %v; want %x", gotSecret, err, secret)
	}
	gotCert, err := certFromEnv(getenv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotCert.Certificate[0], cert.Certificate[0]) {
		t.Error("certFromEnv returned another certificate")
	}
}

func TestEnvErrors(t *testing.T) {
	none := func(string) string { return "" }
	if _, err := secretFromEnv(none); err == nil || !strings.Contains(err.Error(), envSecret+" is not set") {
		t.Errorf("no secret: err = %v", err)
	}
	if _, err := certFromEnv(none); err != nil {
		t.Errorf("no certificate: %v, want a self-signed one", err)
	}
	onlyCert := func(k string) string {
		if k == envCert {
			return "-----BEGIN CERTIFICATE-----"
		}
		return ""
	}
	if _, err := certFromEnv(onlyCert); err == nil {
		t.Error("a certificate without a key: no error")
	}
}
