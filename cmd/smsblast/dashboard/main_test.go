package dashboard

import (
	"os"
	"testing"

	"github.com/smsblast/smsblast/store/pgtest"
)

// TestMain gives the package's tests one PostgreSQL server (see pgtest) and
// removes it afterwards.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
