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
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// serverUser is the OS user the server binaries run as when that is not
// the user running smsblast, which happens only as root (see the package
// doc).
type serverUser struct {
	uid, gid uint32
	// groups are the supplementary groups: canTraverse counts them, so the
	// processes get them too.
	groups []uint32
}

// cluster is the resolved on-disk location of a cluster.
type cluster struct {
	dir     string // Home/pg, symlinks resolved
	dataDir string
	runDir  string
	logFile string
	// runAs is the server user when we run as root, else nil (the server
	// runs as us).
	runAs *serverUser
}

func newCluster(dir string, runAs *serverUser) *cluster {
	return &cluster{
		dir:     dir,
		dataDir: filepath.Join(dir, "data"),
		runDir:  filepath.Join(dir, "run"),
		logFile: filepath.Join(dir, "server.log"),
		runAs:   runAs,
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
// process (a zombie is not).
func (c *cluster) postmasterAlive() bool {
	pid := c.postmasterPID()
	return pid > 0 && processAlive(pid)
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
	cred, err := serverUserFor(filepath.Join(dir, "data"))
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
	cred, err := serverUserFor(filepath.Join(link, "data"))
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
func (e *Embedded) clusterDir(home, link string, cred *serverUser) (string, error) {
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
		return "", fmt.Errorf("place embedded cluster: the server user (uid %d) can reach neither %s nor %s: make one of them searchable", cred.uid, home, sharedClusterRoot)
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

func mkdirOwned(dir string, cred *serverUser) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create embedded cluster directory %s: %w", dir, err)
	}
	return chownTo(dir, cred)
}

func chownTo(path string, cred *serverUser) error {
	if cred == nil {
		return nil
	}
	if err := os.Chown(path, int(cred.uid), int(cred.gid)); err != nil {
		return fmt.Errorf("hand %s to the server user: %w", path, err)
	}
	return nil
}

// canTraverse reports whether cred may search every directory from / down to
// dir (itself included), judged by the permission bits (ACLs are ignored).
func canTraverse(dir string, cred *serverUser) bool {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false
	}
	for p := real; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return false
		}
		uid, gid, ok := fileOwner(fi)
		if !ok {
			return false
		}
		perm := fi.Mode().Perm()
		var can bool
		switch {
		case uid == cred.uid:
			can = perm&0o100 != 0
		case gid == cred.gid || slices.Contains(cred.groups, gid):
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
	return chownTo(path, c.runAs)
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
// the server user cannot read root's), in a session of its own (see
// sysProcAttr).
func (e *Embedded) command(ctx context.Context, c *cluster, bin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = c.dir
	cmd.Env = serverEnv(os.Environ())
	cmd.SysProcAttr = sysProcAttr(c.runAs)
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
