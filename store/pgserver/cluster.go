package pgserver

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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
	dir     string // Home/pg, or the directory smsblast's link there points to
	dataDir string
	runDir  string
	logFile string
	// runAs is the server user when we run as root, else nil (the server
	// runs as us).
	runAs *serverUser
	// root is dir opened by prepareCluster; every write, mkdir and chown in
	// the cluster goes through it (see layout.go). Nil for a cluster that
	// is only read or stopped.
	root *os.Root
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

// path names the file name of the cluster directory, for messages.
func (c *cluster) path(name string) string {
	return filepath.Join(c.dir, name)
}

func (c *cluster) close() {
	if c.root != nil {
		c.root.Close()
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

// initCluster runs initdb into data.init and renames it to data, so that a
// half-finished initdb is never mistaken for a cluster.
func (e *Embedded) initCluster(ctx context.Context, c *cluster, bins serverBinaries) error {
	tmp := c.dataDir + ".init"
	if err := c.root.RemoveAll("data.init"); err != nil {
		return fmt.Errorf("remove unfinished cluster %s: %w", tmp, err)
	}
	e.logger().Info("initialising embedded PostgreSQL cluster", "data", c.dataDir, "initdb", bins.initdb)
	args := []string{
		"-D", tmp,
		"-U", Role,
		// Start replaces pg_hba.conf before the first start (see
		// auth.go); until then, nothing initdb writes trusts anyone.
		"--auth-local=peer", "--auth-host=reject",
		"--encoding=UTF8", "--locale=C",
	}
	if e.Ephemeral {
		args = append(args, "--no-sync")
	}
	if out, err := e.command(ctx, c, bins.initdb, args...); err != nil {
		return fmt.Errorf("initialise embedded PostgreSQL cluster in %s: %w: %s", tmp, err, out)
	}
	const conf = "data.init/postgresql.conf"
	b, err := c.root.ReadFile(conf)
	if err != nil {
		return fmt.Errorf("read %s: %w", c.path(conf), err)
	}
	b = append(b, "\n# smsblast rewrites smsblast.conf on every start; put your own settings below this line.\ninclude_if_exists = 'smsblast.conf'\n"...)
	if err := c.writeFile(conf, b, 0o600); err != nil {
		return err
	}
	if err := c.root.Rename("data.init", "data"); err != nil {
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
	return c.writeFile("data/smsblast.conf", []byte(settings), 0o600)
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
			_ = c.root.Remove("data/postmaster.pid")
			_ = c.root.Remove(fmt.Sprintf("run/.s.PGSQL.%d.lock", embeddedPort))
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
