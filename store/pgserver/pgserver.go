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
// loosen the permissions of anyone's home directory.
package pgserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

const (
	// Role is the superuser role of the embedded cluster; local
	// socket connections are trusted, so it needs no password.
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
// after this process exits.
func (e *Embedded) Start(ctx context.Context) (string, error) {
	home, err := e.home()
	if err != nil {
		return "", err
	}
	// The common case — the server is up — costs one connection, no lock.
	if err := ping(ctx, e.URL()); err == nil {
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
	url := socketURL(c.runDir, Database)
	// Re-check under the lock: whoever held it before us may have done it all.
	if err := ping(ctx, url); err == nil {
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
	maint := socketURL(c.runDir, "postgres")
	if err := ping(ctx, maint); err != nil {
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
// including its directory under /var/lib/smsblast if Home/pg points there.
// Home itself is left in place. Meant for throw-away clusters in tests.
func (e *Embedded) Destroy(ctx context.Context) error {
	return e.withLock(ctx, func(home string) error { return e.destroyLocked(ctx, home) })
}

func (e *Embedded) destroyLocked(ctx context.Context, home string) error {
	if err := e.stopLocked(ctx, home); err != nil {
		return err
	}
	link := filepath.Join(home, "pg")
	if target, err := filepath.EvalSymlinks(link); err == nil {
		if err := os.RemoveAll(target); err != nil {
			return fmt.Errorf("remove embedded cluster %s: %w", target, err)
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

// socketDir is Home/pg/run with symlinks resolved: in the /var/lib case the
// resolved path is short (sun_path holds only 107 bytes) and reachable by
// clients that cannot traverse the home directory.
func (e *Embedded) socketDir() string {
	home, err := e.home()
	if err != nil {
		return ""
	}
	pg := filepath.Join(home, "pg")
	if real, err := filepath.EvalSymlinks(pg); err == nil {
		pg = real
	}
	return filepath.Join(pg, "run")
}

// lock takes the exclusive flock that makes init, start and stop atomic
// across goroutines and processes. flock locks belong to an open file
// description, so two opens in one process exclude each other too.
func (e *Embedded) lock(ctx context.Context, home string) (unlock func(), err error) {
	path := filepath.Join(home, "pg.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", path, err)
	}
	logged := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
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

// cluster is the resolved on-disk location of a cluster.
type cluster struct {
	dir     string // Home/pg, symlinks resolved
	dataDir string
	runDir  string
	logFile string
	// cred is the server user's identity when we run as root, else nil
	// (the server runs as us).
	cred *syscall.Credential
}

func newCluster(dir string, cred *syscall.Credential) *cluster {
	return &cluster{
		dir:     dir,
		dataDir: filepath.Join(dir, "data"),
		runDir:  filepath.Join(dir, "run"),
		logFile: filepath.Join(dir, "server.log"),
		cred:    cred,
	}
}

// initialised reports whether initdb completed: it runs into data.init and
// the directory is renamed to data only afterwards, so a crash mid-initdb
// never leaves a half-made cluster that looks real.
func (c *cluster) initialised() bool {
	_, err := os.Stat(filepath.Join(c.dataDir, "PG_VERSION"))
	return err == nil
}

// version is the major version of an initialised cluster ("15"), else "".
func (c *cluster) version() string {
	b, err := os.ReadFile(filepath.Join(c.dataDir, "PG_VERSION"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// postmasterPID returns the PID recorded in postmaster.pid, or 0.
func (c *cluster) postmasterPID() int {
	f, err := os.Open(filepath.Join(c.dataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	if !s.Scan() {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(s.Text()))
	return pid
}

// postmasterAlive reports whether the PID in postmaster.pid is a live
// process. A killed postmaster whose parent has not reaped it yet is a
// zombie: kill(pid, 0) succeeds on it, but it will never run again.
func (c *cluster) postmasterAlive() bool {
	pid := c.postmasterPID()
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, fs.ErrNotExist) || !procMounted()
	}
	// The state follows the parenthesised command name, which may itself
	// contain spaces or parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

func procMounted() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

// existingCluster resolves Home/pg without creating anything.
func existingCluster(home string) (*cluster, error) {
	dir, err := filepath.EvalSymlinks(filepath.Join(home, "pg"))
	if errors.Is(err, fs.ErrNotExist) {
		return newCluster(filepath.Join(home, "pg"), nil), nil
	}
	if err != nil {
		return nil, fmt.Errorf("resolve embedded cluster directory: %w", err)
	}
	cred, err := serverCredential(filepath.Join(dir, "data"))
	if err != nil {
		return nil, err
	}
	return newCluster(dir, cred), nil
}

// prepareCluster creates the cluster directory, its socket directory and, as
// root, chooses where the cluster lives (see the package doc). The caller
// holds the lock.
func (e *Embedded) prepareCluster(home string) (*cluster, error) {
	link := filepath.Join(home, "pg")
	cred, err := serverCredential(filepath.Join(link, "data"))
	if err != nil {
		return nil, err
	}
	dir, err := e.clusterDir(home, link, cred)
	if err != nil {
		return nil, err
	}
	c := newCluster(dir, cred)
	if n := len(filepath.Join(c.runDir, fmt.Sprintf(".s.PGSQL.%d", embeddedPort))); n > maxSocketPath {
		return nil, fmt.Errorf("place embedded PostgreSQL socket in %s: the path is %d bytes, Unix sockets allow %d: set SMSBLAST_HOME to a shorter path", c.runDir, n, maxSocketPath)
	}
	for _, d := range []string{c.dir, c.runDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create embedded cluster directory %s: %w", d, err)
		}
		if err := chownTo(d, cred); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// clusterDir returns the real directory behind Home/pg, creating it (or the
// /var/lib/smsblast directory and the symlink to it) if needed.
func (e *Embedded) clusterDir(home, link string, cred *syscall.Credential) (string, error) {
	fi, err := os.Lstat(link)
	switch {
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(link)
		if err != nil {
			return "", fmt.Errorf("read embedded cluster link %s: %w", link, err)
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(home, target)
		}
		// The target may be gone (a wiped /var/lib); recreate it in place.
		return target, mkdirOwned(target, cred)
	case err == nil:
		return link, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("inspect embedded cluster directory %s: %w", link, err)
	}

	if cred == nil || canTraverse(home, cred) {
		return link, nil
	}
	real, err := filepath.EvalSymlinks(home)
	if err != nil {
		return "", fmt.Errorf("resolve SMSBLAST_HOME %s: %w", home, err)
	}
	if err := os.MkdirAll(sharedClusterRoot, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", sharedClusterRoot, err)
	}
	if !canTraverse(sharedClusterRoot, cred) {
		return "", fmt.Errorf("place embedded cluster: the server user (uid %d) can reach neither %s nor %s: make one of them searchable", cred.Uid, home, sharedClusterRoot)
	}
	sum := sha256.Sum256([]byte(real))
	target := filepath.Join(sharedClusterRoot, hex.EncodeToString(sum[:6]))
	if err := mkdirOwned(target, cred); err != nil {
		return "", err
	}
	// A note for whoever finds the directory and wonders whose it is.
	_ = os.WriteFile(filepath.Join(target, "HOME"), []byte(real+"\n"), 0o644)
	if err := os.Symlink(target, link); err != nil {
		return "", fmt.Errorf("link embedded cluster %s to %s: %w", link, target, err)
	}
	e.logger().Info("embedded PostgreSQL cluster placed outside SMSBLAST_HOME: its server user cannot reach it",
		"home", home, "cluster", target, "link", link)
	return target, nil
}

func mkdirOwned(dir string, cred *syscall.Credential) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create embedded cluster directory %s: %w", dir, err)
	}
	return chownTo(dir, cred)
}

func chownTo(path string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	if err := os.Chown(path, int(cred.Uid), int(cred.Gid)); err != nil {
		return fmt.Errorf("hand %s to the server user: %w", path, err)
	}
	return nil
}

// serverCredential returns who the server runs as, or nil for "as us". Only
// root needs another user. An existing cluster keeps the user that owns its
// data directory; a new one gets "postgres", else "nobody".
func serverCredential(dataDir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	if fi, err := os.Stat(dataDir); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
			u, err := user.LookupId(strconv.Itoa(int(st.Uid)))
			if err != nil {
				return &syscall.Credential{Uid: st.Uid, Gid: st.Gid}, nil
			}
			return credentialOf(u)
		}
	}
	for _, name := range []string{"postgres", "nobody"} {
		if u, err := user.Lookup(name); err == nil {
			return credentialOf(u)
		}
	}
	return nil, errors.New("run embedded PostgreSQL as root: PostgreSQL refuses to run as root and neither user \"postgres\" nor \"nobody\" exists: create a \"postgres\" user, run smsblast as a normal user, or set DATABASE_URL")
}

func credentialOf(u *user.User) (*syscall.Credential, error) {
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("read ids of user %s: %w", u.Username, err)
	}
	c := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	// Keep the supplementary groups: canTraverse counts them, so the
	// process must have them too.
	ids, _ := u.GroupIds()
	for _, g := range ids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			c.Groups = append(c.Groups, uint32(n))
		}
	}
	return c, nil
}

// canTraverse reports whether cred may search every directory from / down to
// dir (itself included), judged by the permission bits (ACLs are ignored).
func canTraverse(dir string, cred *syscall.Credential) bool {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false
	}
	for p := real; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return false
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return false
		}
		perm := fi.Mode().Perm()
		var can bool
		switch {
		case st.Uid == cred.Uid:
			can = perm&0o100 != 0
		case st.Gid == cred.Gid || slices.Contains(cred.Groups, st.Gid):
			can = perm&0o010 != 0
		default:
			can = perm&0o001 != 0
		}
		if !can {
			return false
		}
		if parent := filepath.Dir(p); parent == p {
			return true
		}
	}
}

// initCluster runs initdb into data.init and renames it to data, so that a
// half-finished initdb is never mistaken for a cluster.
func (e *Embedded) initCluster(ctx context.Context, c *cluster, bins serverBinaries) error {
	tmp := c.dataDir + ".init"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("remove unfinished cluster %s: %w", tmp, err)
	}
	e.logger().Info("initialising embedded PostgreSQL cluster", "data", c.dataDir, "initdb", bins.initdb)
	args := []string{
		"-D", tmp,
		"-U", Role,
		// Trust only the local socket (guarded by directory permissions);
		// TCP is off anyway, and refused should someone turn it on.
		"--auth-local=trust", "--auth-host=reject",
		"--encoding=UTF8", "--locale=C",
	}
	if e.Ephemeral {
		args = append(args, "--no-sync")
	}
	if out, err := e.command(ctx, c, bins.initdb, args...); err != nil {
		return fmt.Errorf("initialise embedded PostgreSQL cluster in %s: %w: %s", tmp, err, out)
	}
	conf := filepath.Join(tmp, "postgresql.conf")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", conf, err)
	}
	_, err = io.WriteString(f, "\n# smsblast rewrites smsblast.conf on every start; put your own settings below this line.\ninclude_if_exists = 'smsblast.conf'\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", conf, err)
	}
	if err := os.Rename(tmp, c.dataDir); err != nil {
		return fmt.Errorf("finish embedded cluster %s: %w", c.dataDir, err)
	}
	return nil
}

// writeSettings (re)writes smsblast.conf, included from postgresql.conf. It
// is rewritten on every start so the socket path follows a moved home.
func (e *Embedded) writeSettings(c *cluster) error {
	durable := "on"
	if e.Ephemeral {
		durable = "off"
	}
	settings := fmt.Sprintf(`# Written by smsblast on every start of the embedded server; edits are lost.
listen_addresses = ''
unix_socket_directories = '%s'
port = %d
# Several senders, psql, a BI tool and parallel tests at once.
max_connections = 200
fsync = %s
synchronous_commit = %s
full_page_writes = %s
`, strings.ReplaceAll(c.runDir, "'", "''"), embeddedPort, durable, durable, durable)
	path := filepath.Join(c.dataDir, "smsblast.conf")
	if err := os.WriteFile(path, []byte(settings), 0o600); err != nil {
		return fmt.Errorf("write embedded server settings %s: %w", path, err)
	}
	return chownTo(path, c.cred)
}

// startServer runs pg_ctl start, which waits until the server accepts
// connections. A server killed with -9 leaves postmaster.pid behind; pg_ctl
// and postgres cope with that themselves once the old processes are gone, so
// while the log says they are not, we wait and retry.
func (e *Embedded) startServer(ctx context.Context, c *cluster, bins serverBinaries) error {
	e.logger().Info("starting embedded PostgreSQL", "data", c.dataDir, "socket", c.runDir, "log", c.logFile)
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		if pid := c.postmasterPID(); pid > 0 && !c.postmasterAlive() {
			// Dead or a zombie: postgres would take a zombie for a live
			// postmaster and refuse to start, so clear both lock files.
			_ = os.Remove(filepath.Join(c.dataDir, "postmaster.pid"))
			_ = os.Remove(filepath.Join(c.runDir, fmt.Sprintf(".s.PGSQL.%d.lock", embeddedPort)))
		}
		offset := fileSize(c.logFile)
		out, err := e.command(ctx, c, bins.pgCtl, "start", "-D", c.dataDir, "-l", c.logFile, "-w", "-t", "300")
		if err == nil {
			return nil
		}
		logTail := readFrom(c.logFile, offset)
		lastErr = fmt.Errorf("start embedded PostgreSQL in %s: %w: %s%s", c.dataDir, err, out, logTail)
		if !strings.Contains(logTail, "already exists") && !strings.Contains(logTail, "still in use") {
			return lastErr
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("start embedded PostgreSQL: %w", ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
	return lastErr
}

// command runs a server binary as the server user, in the cluster directory
// (initdb and pg_ctl fail when they cannot read their working directory, and
// the server user cannot read root's), in a session of its own so that a
// Ctrl-C in the terminal never reaches the server it leaves running.
func (e *Embedded) command(ctx context.Context, c *cluster, bin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = c.dir
	cmd.Env = serverEnv(os.Environ())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: c.cred}
	out, err := cmd.CombinedOutput()
	return bytes.TrimSpace(out), err
}

// serverEnv drops the variables that would steer the server elsewhere
// (PGDATA, PGPORT, …) and pins messages to English so logs are greppable.
func serverEnv(env []string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "LC_ALL=C")
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readFrom returns what was appended to a log since offset, for error
// messages, capped to its last few KiB.
func readFrom(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const max = 4 << 10
	if size := fileSize(path); size-offset > max {
		offset = size - max
	}
	b, _ := io.ReadAll(io.NewSectionReader(f, offset, max))
	if len(b) == 0 {
		return ""
	}
	return "\nserver log " + path + ":\n" + strings.TrimSpace(string(b))
}

// serverBinaries are the absolute paths of the programs Embedded runs.
type serverBinaries struct {
	initdb, pgCtl string
}

// findServerBinaries looks for initdb and pg_ctl on pathEnv, then under the
// globs, highest version first. major, when set, is the version of an
// existing cluster: only binaries of that major version can run it.
func findServerBinaries(pathEnv string, globs []string, major string) (serverBinaries, error) {
	var dirs []string
	for _, d := range filepath.SplitList(pathEnv) {
		if d != "" && filepath.IsAbs(d) {
			dirs = append(dirs, d)
		}
	}
	var versioned []string
	for _, g := range globs {
		m, _ := filepath.Glob(g)
		versioned = append(versioned, m...)
	}
	// /usr/lib/postgresql/16/bin before /usr/lib/postgresql/9.6/bin.
	sort.SliceStable(versioned, func(i, j int) bool {
		return versionLess(dirVersion(versioned[j]), dirVersion(versioned[i]))
	})
	dirs = append(dirs, versioned...)

	var found []string
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "pg_ctl")) {
			found = append(found, d)
		}
	}
	if len(found) == 0 {
		return serverBinaries{}, ErrNoServerBinaries
	}
	pick := found[0]
	if major != "" {
		pick = ""
		for _, d := range found {
			if binaryMajor(d) == major {
				pick = d
				break
			}
		}
		if pick == "" {
			return serverBinaries{}, fmt.Errorf("find PostgreSQL %s server binaries: the embedded cluster was created by PostgreSQL %s, but only other versions are installed (%s): install PostgreSQL %s, or upgrade the cluster with pg_upgrade", major, major, strings.Join(found, ", "), major)
		}
	}
	return serverBinaries{initdb: filepath.Join(pick, "initdb"), pgCtl: filepath.Join(pick, "pg_ctl")}, nil
}

// binaryMajor returns the major version of the pg_ctl in dir ("15", "9.6").
func binaryMajor(dir string) string {
	out, err := exec.Command(filepath.Join(dir, "pg_ctl"), "--version").Output()
	if err != nil {
		return ""
	}
	// "pg_ctl (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
	fields := strings.Fields(string(out))
	if len(fields) < 3 {
		return ""
	}
	v := strings.Split(fields[2], ".")
	major := leadingDigits(v[0])
	if n, _ := strconv.Atoi(major); n > 0 && n < 10 && len(v) >= 2 {
		return major + "." + leadingDigits(v[1]) // 9.6 and older: two-part majors
	}
	return major
}

func leadingDigits(s string) string {
	for i, r := range s {
		if r < '0' || r > '9' {
			return s[:i]
		}
	}
	return s
}

// dirVersion extracts "16" from /usr/lib/postgresql/16/bin.
func dirVersion(binDir string) string {
	return filepath.Base(filepath.Dir(binDir))
}

// versionLess compares dotted version numbers numerically.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, _ := strconv.Atoi(as[i])
		y, _ := strconv.Atoi(bs[i])
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// socketURL builds a libpq URI for a Unix socket directory. Both libpq (psql)
// and pgx read the socket directory from the host query parameter.
func socketURL(dir, database string) string {
	return "postgres://" + Role + "@/" + database + "?host=" + escapeQueryPath(dir)
}

// escapeQueryPath percent-encodes a path for a URI query value, keeping "/"
// readable. Unlike url.QueryEscape it never writes "+" for a space: libpq
// does not decode "+".
func escapeQueryPath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		ch := p[i]
		if ch == '/' || ch == '-' || ch == '_' || ch == '.' || ch == '~' ||
			'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' {
			b.WriteByte(ch)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", ch)
	}
	return b.String()
}

// ping opens and closes one connection.
func ping(ctx context.Context, url string) error {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("parse %s: %w", url, err)
	}
	cfg.ConnectTimeout = 5 * time.Second
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// createDatabase creates database name unless it exists. Callers hold the
// cluster lock, but a user may create it by hand at the same moment, so
// "already exists" counts as success.
func createDatabase(ctx context.Context, maintURL, name string) error {
	cfg, err := pgconn.ParseConfig(maintURL)
	if err != nil {
		return fmt.Errorf("parse %s: %w", maintURL, err)
	}
	cfg.ConnectTimeout = 10 * time.Second
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to embedded PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	res := conn.ExecParams(ctx, "SELECT 1 FROM pg_database WHERE datname = $1", [][]byte{[]byte(name)}, nil, nil, nil).Read()
	if res.Err != nil {
		return fmt.Errorf("look up database %s: %w", name, res.Err)
	}
	if len(res.Rows) > 0 {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+quoteIdent(name)).ReadAll()
	var pgErr *pgconn.PgError
	if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "42P04") { // duplicate_database
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
