package pgserver

import "errors"

// Sentinel errors of package pgserver. Compare with errors.Is.
var (
	// ErrNoServerBinaries means no DATABASE_URL was given and the
	// PostgreSQL server binaries the embedded database needs are not
	// installed. Its text tells the user exactly what to install or set.
	ErrNoServerBinaries = errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under /usr/lib/postgresql/*/bin: install them (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql@16) or set DATABASE_URL to a running server")

	// ErrForeignLink means a path under SMSBLAST_HOME that smsblast would
	// hand to the server user, write to or initialise is a symbolic link it
	// did not make. As root, following it would give away whatever it
	// points to, so smsblast stops and names the link to remove.
	ErrForeignLink = errors.New("a symbolic link smsblast did not make")

	// ErrUnsupportedOS means the embedded database cannot run on this
	// operating system (Windows): the user must point smsblast at a server
	// of their own.
	ErrUnsupportedOS = errors.New("the embedded PostgreSQL does not run on Windows: set DATABASE_URL to the connection string of a PostgreSQL server")
)
