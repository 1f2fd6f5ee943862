package container

import (
	"bytes"
	"testing"
	"time"
)

func TestDefaultSeccompCache(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	a, err := DefaultSeccomp(DefaultCapabilities, dir)
	if err != nil {
		t.Fatal(err)
	}
	compile := time.Since(start)
	start = time.Now()
	b, err := DefaultSeccomp(DefaultCapabilities, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("compile %v, cached %v, %d instructions", compile, time.Since(start), len(a)/8)
	if !bytes.Equal(a, b) || len(a) == 0 || len(a)%8 != 0 {
		t.Fatalf("cached program differs or is malformed (%d vs %d bytes)", len(a), len(b))
	}
	c, err := DefaultSeccomp(append(DefaultCapabilities, "CAP_SYS_ADMIN"), dir)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, c) {
		t.Fatal("CAP_SYS_ADMIN should change the profile")
	}
}
