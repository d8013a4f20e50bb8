package main

import (
	"os"
	"testing"

	"github.com/smsblast/smsblast/store/pgtest"
)

// TestMain gives the package's tests one PostgreSQL server (see pgtest) and
// removes it afterwards, with the binary buildBinary built once for all the
// tests that run it. It is the only TestMain of this test binary.
func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}
