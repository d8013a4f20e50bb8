package send_test

import (
	"os"
	"testing"

	"github.com/smsblast/smsblast/store/pgtest"
)

// TestMain gives the package's tests one PostgreSQL server (see pgtest) and
// removes it afterwards. It is the only TestMain of this test binary.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
