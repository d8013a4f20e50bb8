// Package pgserver runs smsblast's embedded PostgreSQL: with no
// DATABASE_URL, smsblast starts its own server from the server binaries
// installed on the machine (initdb, pg_ctl), keeps it under $SMSBLAST_HOME
// and leaves it running for psql and BI tools. That is its one job; the SQL
// smsblast runs against any server is package store's.
//
// On-disk layout (the "cluster directory" is $SMSBLAST_HOME/pg, possibly a
// symlink, see below):
//
//	$SMSBLAST_HOME/pg.lock        flock taken around init, start and stop
//	$SMSBLAST_HOME/pg/data        PGDATA
//	$SMSBLAST_HOME/pg/run         the Unix socket directory (no TCP at all)
//	$SMSBLAST_HOME/pg/server.log  the server's log
//
// Running as root: initdb, pg_ctl and postgres refuse to run as root, so the
// server runs as the unprivileged user "postgres" (or "nobody" when absent).
// That user must be able to search every ancestor of the data and socket
// directories. When it can reach $SMSBLAST_HOME, the cluster directory is a
// plain directory there, owned by the server user. When it cannot — the
// default home is under /root, which is 0700, as is a t.TempDir() — the real
// cluster lives in /var/lib/smsblast/<hash of the home path> and
// $SMSBLAST_HOME/pg is a symlink to it: users still find it under
// $SMSBLAST_HOME/pg, the data survives reboots (unlike /tmp), and we never
// loosen the permissions of anyone's home directory. That link is the only
// one smsblast follows there: any other is refused with ErrForeignLink
// rather than chowned or initialised through (see layout.go).
//
// Only the OS user running smsblast may connect, by peer authentication on
// the socket; there is no password (see auth.go).
//
// The embedded server runs on Unix only: on Windows, Start returns
// ErrUnsupportedOS, asking for DATABASE_URL.
package pgserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

const (
	// Role is the superuser role of the embedded cluster. It has no
	// password: only the OS user running smsblast may log in as it, by
	// peer authentication on the Unix socket (see Start).
	Role = "smsblast"
	// Database is the database smsblast uses in the embedded cluster.
	Database = "smsblast"

	// embeddedPort only names the socket file (.s.PGSQL.5432): every
	// cluster has its own socket directory and there is no TCP listener, so
	// clusters never collide on it.
	embeddedPort = 5432
	// maxSocketPath is sun_path's size on Linux minus the terminating NUL.
	maxSocketPath = 107
	// sharedClusterRoot holds clusters whose home the server user cannot
	// reach (see the package doc).
	sharedClusterRoot = "/var/lib/smsblast"
	// startAttempts bounds retries of pg_ctl start while a killed server's
	// processes are still going away.
	startAttempts = 20
)

// defaultBinGlobs is where distributions install versioned server binaries
// that are not on PATH (Debian and Ubuntu).
var defaultBinGlobs = []string{"/usr/lib/postgresql/*/bin"}

// Embedded is smsblast's own PostgreSQL server, kept under Home. It is
// started on first need and left running for psql and BI tools until Stop.
//
// Several Embedded values, goroutines and processes may use the same Home at
// once: Start and Stop serialise on a file lock in Home, so exactly one server
// is ever started. An Embedded is safe for concurrent use.
type Embedded struct {
	// Home is $SMSBLAST_HOME (see DefaultHome); the cluster lives in Home/pg.
	Home string
	// Logger receives progress messages (initialising, starting, stopping).
	// Nil discards them.
	Logger *slog.Logger
	// Ephemeral trades durability for speed, for throw-away clusters in
	// tests: initdb --no-sync, fsync and synchronous_commit off. It is
	// applied on every Start. Default false: a crash-safe cluster.
	Ephemeral bool

	// binGlobs overrides defaultBinGlobs in tests.
	binGlobs []string
}

// DefaultHome returns the directory the embedded database lives in:
// $SMSBLAST_HOME if set, else $XDG_DATA_HOME/smsblast, else
// $HOME/.local/share/smsblast. getenv is usually os.Getenv.
func DefaultHome(getenv func(string) string) (string, error) {
	if h := getenv("SMSBLAST_HOME"); h != "" {
		abs, err := filepath.Abs(h)
		if err != nil {
			return "", fmt.Errorf("resolve SMSBLAST_HOME %q: %w", h, err)
		}
		return abs, nil
	}
	// The XDG spec says relative paths in XDG_* are invalid and must be ignored.
	if x := getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "smsblast"), nil
	}
	if h := getenv("HOME"); h != "" && filepath.IsAbs(h) {
		return filepath.Join(h, ".local", "share", "smsblast"), nil
	}
	return "", errors.New("find a home for the embedded database: HOME is not set; set SMSBLAST_HOME or DATABASE_URL")
}

// URL returns the connection string of the embedded database, whether or not
// the server is running. Both pgx and psql accept it:
// postgres://smsblast@/smsblast?host=/abs/socket/dir.
func (e *Embedded) URL() string {
	return socketURL(e.socketDir(), Database)
}

// MaintenanceURL is like URL but names the "postgres" maintenance database,
// for creating and dropping databases.
func (e *Embedded) MaintenanceURL() string {
	return socketURL(e.socketDir(), "postgres")
}

// Running reports whether a server accepts connections on the socket.
func (e *Embedded) Running() bool {
	// A server killed with -9 leaves its socket file behind; connecting to it
	// is refused, so a dial tells live from stale without a subprocess.
	c, err := net.DialTimeout("unix", filepath.Join(e.socketDir(), fmt.Sprintf(".s.PGSQL.%d", embeddedPort)), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Start makes sure the embedded server is running and the smsblast database
// exists, and returns its URL. It initialises the cluster on first use and
// starts the server if it is not running; when another process is doing
// either, it waits for it and reuses its server. The server keeps running
// after this process exits. It admits only the OS user running smsblast
// (see auth.go): Start adds that user, and switches a cluster made by an
// older smsblast over to peer authentication, reloading a running server.
func (e *Embedded) Start(ctx context.Context) (string, error) {
	if err := supported(); err != nil {
		return "", err
	}
	home, err := e.home()
	if err != nil {
		return "", err
	}
	// The common case — the server is up — costs one connection and one
	// small file read, no lock.
	if err := ping(ctx, e.URL()); err == nil && authCurrent(e.clusterDir()) {
		return e.URL(), nil
	}

	if err := os.MkdirAll(home, 0o755); err != nil {
		return "", fmt.Errorf("create SMSBLAST_HOME %s: %w", home, err)
	}
	unlock, err := e.lock(ctx, home)
	if err != nil {
		return "", err
	}
	defer unlock()

	c, err := e.prepareCluster(home)
	if err != nil {
		return "", err
	}
	defer c.close()
	url := socketURL(c.runDir, Database)
	// Re-check under the lock: whoever held it before us may have done it all.
	if err := ping(ctx, url); err == nil && authCurrent(c.dir) {
		return url, nil
	}

	bins, err := findServerBinaries(os.Getenv("PATH"), e.globs(), c.version())
	if err != nil {
		return "", err
	}
	if !c.initialised() {
		if err := e.initCluster(ctx, c, bins); err != nil {
			return "", err
		}
	}
	if err := e.writeSettings(c); err != nil {
		return "", err
	}
	osUser, err := invokingUser()
	if err != nil {
		return "", err
	}
	authChanged, err := c.writeAuth(osUser)
	if err != nil {
		return "", err
	}
	maint := socketURL(c.runDir, "postgres")
	switch err := ping(ctx, maint); {
	case err == nil:
		// Running and letting us in, perhaps because it trusts everyone.
		if authChanged {
			if err := e.reload(ctx, c, bins); err != nil {
				return "", err
			}
		}
	case refusedLogin(err):
		// Running, but it has not read the map that now names us.
		if err := e.reload(ctx, c, bins); err != nil {
			return "", err
		}
		if err := waitForLogin(ctx, maint); err != nil {
			return "", fmt.Errorf("connect to embedded PostgreSQL in %s: %w", c.dataDir, err)
		}
	default:
		if err := e.startServer(ctx, c, bins); err != nil {
			return "", err
		}
	}
	if err := createDatabase(ctx, maint, Database); err != nil {
		return "", err
	}
	return url, nil
}

// Stop stops the embedded server (pg_ctl stop -m fast: sessions are
// disconnected, transactions rolled back, data flushed). Stopping a server
// that is not running, or was never initialised, is not an error.
func (e *Embedded) Stop(ctx context.Context) error {
	if err := supported(); err != nil {
		return err
	}
	return e.withLock(ctx, func(home string) error { return e.stopLocked(ctx, home) })
}

// withLock runs f under the home's lock, unless Home does not exist (then
// there is no cluster to act on).
func (e *Embedded) withLock(ctx context.Context, f func(home string) error) error {
	home, err := e.home()
	if err != nil {
		return err
	}
	if _, err := os.Stat(home); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	unlock, err := e.lock(ctx, home)
	if err != nil {
		return err
	}
	defer unlock()
	return f(home)
}

// Destroy stops the server and deletes the cluster with all its data,
// including its directory under /var/lib/smsblast if Home/pg is smsblast's
// link there (any other link is refused, its target left alone). Home
// itself is left in place. Meant for throw-away clusters in tests.
func (e *Embedded) Destroy(ctx context.Context) error {
	if err := supported(); err != nil {
		return err
	}
	return e.withLock(ctx, func(home string) error { return e.destroyLocked(ctx, home) })
}

func (e *Embedded) destroyLocked(ctx context.Context, home string) error {
	if err := e.stopLocked(ctx, home); err != nil {
		return err
	}
	// Only smsblast's own link is followed: a link planted in Home/pg
	// must not make Destroy delete what it points to.
	link := filepath.Join(home, "pg")
	dir, linked, err := locateCluster(home)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if linked {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("remove embedded cluster %s: %w", dir, err)
		}
	}
	if err := os.RemoveAll(link); err != nil {
		return fmt.Errorf("remove embedded cluster %s: %w", link, err)
	}
	return nil
}

func (e *Embedded) stopLocked(ctx context.Context, home string) error {
	c, err := existingCluster(home)
	if err != nil || !c.initialised() {
		return err
	}
	if !c.postmasterAlive() {
		return nil
	}
	bins, err := findServerBinaries(os.Getenv("PATH"), e.globs(), c.version())
	if err != nil {
		return err
	}
	e.logger().Info("stopping embedded PostgreSQL", "data", c.dataDir)
	out, err := e.command(ctx, c, bins.pgCtl, "stop", "-D", c.dataDir, "-m", "fast", "-w", "-t", "60")
	if err != nil {
		var exit *exec.ExitError
		// 3: "no server running" — someone stopped it between our checks.
		if errors.As(err, &exit) && exit.ExitCode() == 3 || !c.postmasterAlive() {
			return nil
		}
		return fmt.Errorf("stop embedded PostgreSQL in %s: %w: %s", c.dataDir, err, out)
	}
	return nil
}

func (e *Embedded) home() (string, error) {
	if e.Home == "" {
		return "", errors.New("start embedded PostgreSQL: Embedded.Home is empty")
	}
	return filepath.Abs(e.Home)
}

func (e *Embedded) logger() *slog.Logger {
	if e.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Logger
}

func (e *Embedded) globs() []string {
	if e.binGlobs != nil {
		return e.binGlobs
	}
	return defaultBinGlobs
}

// clusterDir is Home/pg, or where smsblast's link there points: in the
// /var/lib case that path is short (sun_path holds only 107 bytes) and
// reachable by clients that cannot traverse the home directory.
func (e *Embedded) clusterDir() string {
	home, err := e.home()
	if err != nil {
		return ""
	}
	dir, _, err := locateCluster(home)
	if dir == "" || err != nil && !errors.Is(err, fs.ErrNotExist) {
		dir = filepath.Join(home, "pg")
	}
	return dir
}

func (e *Embedded) socketDir() string {
	return filepath.Join(e.clusterDir(), "run")
}

// lock takes the exclusive file lock that makes init, start and stop atomic
// across goroutines and processes (see tryLock).
func (e *Embedded) lock(ctx context.Context, home string) (release func(), err error) {
	path := filepath.Join(home, "pg.lock")
	// Through an os.Root: a symlink planted at pg.lock must not make us
	// create or open a file elsewhere.
	r, err := os.OpenRoot(home)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", path, err)
	}
	f, err := r.OpenFile("pg.lock", os.O_CREATE|os.O_RDWR, 0o600)
	r.Close()
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", path, err)
	}
	logged := false
	for {
		locked, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if locked {
			return func() {
				unlock(f)
				f.Close()
			}, nil
		}
		if !logged {
			e.logger().Info("waiting for another smsblast to start or stop the embedded PostgreSQL", "lock", path)
			logged = true
		}
		// Polling rather than a blocking flock keeps ctx cancellation working.
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
