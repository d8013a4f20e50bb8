//go:build unix

package pgserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestEmbeddedWithoutBinaries(t *testing.T) {
	t.Parallel()
	if os.Getenv("PATH") != "" {
		// Start reads PATH; an initdb on it would be found. Make sure the
		// globs are the only other source and that they find nothing.
		if _, err := exec.LookPath("initdb"); err == nil {
			t.Skip("initdb is on PATH; TestFindServerBinaries covers the missing case")
		}
	}
	e := &Embedded{Home: t.TempDir(), binGlobs: []string{filepath.Join(t.TempDir(), "*", "bin")}}
	_, err := e.Start(context.Background())
	if !errors.Is(err, ErrNoServerBinaries) {
		t.Fatalf("Start = %v, want ErrNoServerBinaries", err)
	}
	want := "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under /usr/lib/postgresql/*/bin: install them (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql@16) or set DATABASE_URL to a running server"
	if err.Error() != want {
		t.Fatalf("error text:\n%s\nwant:\n%s", err, want)
	}
}

// newTestEmbedded returns an Embedded on a fresh home, destroyed at cleanup.
// It skips when the machine has no server binaries: these tests are about
// running them.
func newTestEmbedded(t *testing.T, home string) *Embedded {
	t.Helper()
	if _, err := findServerBinaries(os.Getenv("PATH"), defaultBinGlobs, ""); err != nil {
		t.Skipf("embedded PostgreSQL tests need server binaries: %v", err)
	}
	e := &Embedded{Home: home, Ephemeral: true}
	t.Cleanup(func() {
		if err := e.Destroy(context.Background()); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	return e
}

func queryString(t *testing.T, url, sql string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func TestEmbeddedLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	home := t.TempDir()
	e := newTestEmbedded(t, home)

	if e.Running() {
		t.Fatal("Running before Start")
	}
	if err := e.Stop(ctx); err != nil {
		t.Fatalf("Stop before Start: %v", err)
	}
	url, err := e.Start(ctx)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if url != e.URL() || !e.Running() {
		t.Fatalf("after Start: url %q, URL() %q, Running %v", url, e.URL(), e.Running())
	}
	got := queryString(t, url, `SELECT current_database() || ' ' || current_user || ' [' || current_setting('listen_addresses') || '] ' || current_setting('max_connections') || ' ' || current_setting('server_encoding')`)
	if want := "smsblast smsblast [] 200 UTF8"; got != want {
		t.Fatalf("server reports %q, want %q", got, want)
	}

	// psql must accept the URL as printed by `smsblast db url`.
	out, err := exec.Command(psqlPath(t), url, "-Aqtc", "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42); SELECT current_database()").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "smsblast" {
		t.Fatalf("psql %q: %v: %s", url, err, out)
	}

	if again, err := e.Start(ctx); err != nil || again != url {
		t.Fatalf("second Start = %q, %v; want %q", again, err, url)
	}
	if err := e.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if e.Running() {
		t.Fatal("Running after Stop")
	}
	if err := e.Stop(ctx); err != nil {
		t.Fatalf("Stop when stopped: %v", err)
	}
	if _, err := e.Start(ctx); err != nil {
		t.Fatalf("Start after Stop: %v", err)
	}
	if got := queryString(t, url, "SELECT x::text FROM kept"); got != "42" {
		t.Fatalf("data after restart = %q, want 42", got)
	}

	// The layout: data, socket and log under Home/pg.
	for _, p := range []string{"pg/data/PG_VERSION", "pg/run", "pg/server.log"} {
		if _, err := os.Stat(filepath.Join(home, p)); err != nil {
			t.Errorf("layout: %v", err)
		}
	}
}

// As root, a home the server user cannot reach (t.TempDir is 0700) gets its
// cluster in /var/lib/smsblast behind a symlink; a reachable one keeps it in
// place. Either way the server runs as the unprivileged user.
func TestEmbeddedAsRoot(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("the server-user placement only applies when running as root")
	}
	tests := []struct {
		name      string
		reachable bool
	}{
		{name: "unreachable home", reachable: false},
		{name: "reachable home", reachable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// t.TempDir() makes a 0700 parent per test and 0755 dirs in it.
			home := t.TempDir()
			if tt.reachable {
				if err := os.Chmod(filepath.Dir(home), 0o711); err != nil {
					t.Fatal(err)
				}
			}
			wantLink := !tt.reachable
			e := newTestEmbedded(t, home)
			if _, err := e.Start(context.Background()); err != nil {
				t.Fatalf("Start: %v", err)
			}
			fi, err := os.Lstat(filepath.Join(home, "pg"))
			if err != nil {
				t.Fatal(err)
			}
			isLink := fi.Mode()&os.ModeSymlink != 0
			if isLink != wantLink {
				t.Fatalf("Home/pg symlink = %v, want %v", isLink, wantLink)
			}
			real, _ := filepath.EvalSymlinks(filepath.Join(home, "pg"))
			if wantLink && !strings.HasPrefix(real, sharedClusterRoot+"/") {
				t.Fatalf("cluster at %s, want under %s", real, sharedClusterRoot)
			}
			c, err := existingCluster(home)
			if err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(fmt.Sprintf("/proc/%d", c.postmasterPID()))
			if err != nil {
				t.Fatalf("postmaster: %v", err)
			}
			if uid := st.Sys().(*syscall.Stat_t).Uid; uid == 0 || uid != c.runAs.uid {
				t.Fatalf("postmaster runs as uid %d, want the server user %d", uid, c.runAs.uid)
			}
			if strings.Contains(real, "/root/") {
				t.Fatalf("cluster %s is under /root", real)
			}

			// A restart goes through the link smsblast made, and Destroy
			// removes what it points to.
			if err := e.Stop(context.Background()); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if _, err := e.Start(context.Background()); err != nil {
				t.Fatalf("Start again: %v", err)
			}
			if err := e.Destroy(context.Background()); err != nil {
				t.Fatalf("Destroy: %v", err)
			}
			if _, err := os.Lstat(real); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("after Destroy, the cluster at %s: %v", real, err)
			}
		})
	}
}

// snapshot records the mode, owner and content of everything under dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		v := fmt.Sprintf("%v uid %d gid %d", fi.Mode(), st.Uid, st.Gid)
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += " " + string(b)
		}
		m[p] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// makeVictim makes a directory with a file in it, for tests that check it
// is left alone.
func makeVictim(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keep"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A symlink in Home/pg (or in the cluster directory) that smsblast did not
// make is refused before anything is created, chowned or initialised
// through it: as root, following it would hand the target to the server
// user. Stop and Destroy leave the target alone too.
func TestEmbeddedRefusesForeignLinks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// plant makes the link in home, to victim; it returns the path
		// the error must name.
		plant func(t *testing.T, home, victim string) string
	}{
		{name: "pg to a directory", plant: func(t *testing.T, home, victim string) string {
			return symlink(t, victim, filepath.Join(home, "pg"))
		}},
		{name: "pg relative", plant: func(t *testing.T, home, victim string) string {
			return symlink(t, filepath.Join("..", filepath.Base(victim)), filepath.Join(home, "pg"))
		}},
		{name: "pg to another shared", plant: func(t *testing.T, home, victim string) string {
			return symlink(t, filepath.Join(sharedClusterRoot, "0123456789ab"), filepath.Join(home, "pg"))
		}},
		{name: "pg/run", plant: func(t *testing.T, home, victim string) string {
			mkdir(t, filepath.Join(home, "pg"))
			return symlink(t, victim, filepath.Join(home, "pg", "run"))
		}},
		{name: "pg/data", plant: func(t *testing.T, home, victim string) string {
			mkdir(t, filepath.Join(home, "pg"))
			return symlink(t, victim, filepath.Join(home, "pg", "data"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			base := t.TempDir()
			home, victim := filepath.Join(base, "home"), filepath.Join(base, "victim")
			mkdir(t, home)
			makeVictim(t, victim)
			link := tt.plant(t, home, victim)
			before := snapshot(t, victim)

			e := &Embedded{Home: home, Ephemeral: true}
			_, err := e.Start(ctx)
			if !errors.Is(err, ErrForeignLink) || !strings.Contains(err.Error(), link) {
				t.Fatalf("Start = %v; want ErrForeignLink naming %s", err, link)
			}
			_ = e.Stop(ctx)
			_ = e.Destroy(ctx)
			if after := snapshot(t, victim); !maps.Equal(before, after) {
				t.Fatalf("the link's target changed:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

func symlink(t *testing.T, target, link string) string {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	return link
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

// The files smsblast rewrites in the data directory on every start (which,
// as root, belongs to the server user) are replaced, never written through:
// a link planted at their names does not reach its target.
func TestEmbeddedReplacesPlantedFileLinks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := t.TempDir()
	home, victim := filepath.Join(base, "home"), filepath.Join(base, "victim")
	mkdir(t, home)
	makeVictim(t, victim)
	e := newTestEmbedded(t, home)
	if _, err := e.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := e.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	conf := filepath.Join(home, "pg", "data", "smsblast.conf")
	if err := os.Remove(conf); err != nil {
		t.Fatal(err)
	}
	symlink(t, filepath.Join(victim, "keep"), conf)
	before := snapshot(t, victim)
	if _, err := e.Start(ctx); err != nil {
		t.Fatalf("Start with a planted link: %v", err)
	}
	if after := snapshot(t, victim); !maps.Equal(before, after) {
		t.Fatalf("the link's target changed:\nbefore %v\nafter  %v", before, after)
	}
	if fi, err := os.Lstat(conf); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("%s after Start: %v, %v; want a regular file", conf, fi, err)
	}
}

// countStarts counts how many times a server started on the cluster.
func countStarts(t *testing.T, home string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(home, "pg", "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("database system is ready to accept connections"))
}

func TestEmbeddedConcurrentStartGoroutines(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	newTestEmbedded(t, home)
	const n = 4
	urls := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Separate values: the file lock, not a mutex, must do the work.
			e := &Embedded{Home: home, Ephemeral: true}
			urls[i], errs[i] = e.Start(context.Background())
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || urls[i] != urls[0] {
			t.Fatalf("Start %d = %q, %v; want %q, nil", i, urls[i], errs[i], urls[0])
		}
	}
	if got := countStarts(t, home); got != 1 {
		t.Fatalf("server started %d times, want 1", got)
	}
}

const helperHomeEnv = "SMSBLAST_TEST_EMBEDDED_HOME"

// TestEmbeddedHelperProcess is not a test: TestEmbeddedConcurrentStartProcesses
// runs the test binary with only this function selected, as a separate
// smsblast-like process that starts the embedded server.
func TestEmbeddedHelperProcess(t *testing.T) {
	home := os.Getenv(helperHomeEnv)
	if home == "" {
		t.Skip("helper process for TestEmbeddedConcurrentStartProcesses")
	}
	url, err := (&Embedded{Home: home, Ephemeral: true}).Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(url)
	os.Exit(0)
}

func TestEmbeddedConcurrentStartProcesses(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	newTestEmbedded(t, home)
	const n = 3
	cmds := make([]*exec.Cmd, n)
	outs := make([]bytes.Buffer, n)
	for i := range cmds {
		cmds[i] = exec.Command(os.Args[0], "-test.run=^TestEmbeddedHelperProcess$", "-test.count=1")
		cmds[i].Env = append(os.Environ(), helperHomeEnv+"="+home)
		cmds[i].Stdout = &outs[i]
		cmds[i].Stderr = &outs[i]
	}
	// Start all before waiting for any, so they race for the first start.
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("process %d: %v: %s", i, err, outs[i].String())
		}
	}
	want := (&Embedded{Home: home}).URL()
	for i := range outs {
		if got := strings.TrimSpace(outs[i].String()); got != want {
			t.Fatalf("process %d printed %q, want %q", i, got, want)
		}
	}
	if got := countStarts(t, home); got != 1 {
		t.Fatalf("server started %d times, want 1", got)
	}
}

func TestEmbeddedRecoversFromKill(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	home := t.TempDir()
	e := newTestEmbedded(t, home)
	url, err := e.Start(ctx)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	c, err := existingCluster(home)
	if err != nil {
		t.Fatal(err)
	}
	pid := c.postmasterPID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 postmaster %d: %v", pid, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.postmasterAlive() || e.Running() {
		if time.Now().After(deadline) {
			t.Fatal("postmaster still alive 10 s after kill -9")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// postmaster.pid and the socket file are left behind, as after a power cut.
	if c.postmasterPID() != pid {
		t.Fatal("postmaster.pid vanished; the test no longer exercises a stale one")
	}
	if _, err := e.Start(ctx); err != nil {
		t.Fatalf("Start after kill -9: %v", err)
	}
	if got := queryString(t, url, "SELECT 'up'"); got != "up" {
		t.Fatalf("query after restart = %q", got)
	}
}

// psqlPath returns the psql beside the server binaries the tests use.
func psqlPath(t *testing.T) string {
	t.Helper()
	bins, err := findServerBinaries(os.Getenv("PATH"), defaultBinGlobs, "")
	if err != nil {
		t.Fatal(err)
	}
	pgCtl, err := filepath.EvalSymlinks(bins.pgCtl)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(filepath.Dir(pgCtl), "psql")
}

// psqlAs runs psql on url as the OS user u (nil: as us) and returns what
// it printed: current_user, or why it could not connect.
func psqlAs(t *testing.T, u *serverUser, url string) (string, error) {
	t.Helper()
	cmd := exec.Command(psqlPath(t), "-X", "-w", "-Atc", "SELECT current_user", url)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	cmd.SysProcAttr = sysProcAttr(u)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// eventually retries check for up to five seconds: a server applies a
// reload a moment after it is signalled.
func eventually(t *testing.T, check func() error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Only the OS user running smsblast may connect: as root, root, and not
// the server user, who can reach the socket. A cluster made by an older
// smsblast, which trusted every local connection, is switched over by the
// next Start while its server keeps running.
func TestEmbeddedPeerAuthentication(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	home := t.TempDir()
	e := newTestEmbedded(t, home)
	url, err := e.Start(ctx)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	c, err := existingCluster(home)
	if err != nil {
		t.Fatal(err)
	}
	if c.runAs == nil {
		t.Log("not root: the server runs as us, so there is no other user to refuse")
	}
	admitsUs := func(when string) {
		t.Helper()
		if out, err := psqlAs(t, nil, url); err != nil || out != Role {
			t.Fatalf("%s: psql as us: %v: %s", when, err, out)
		}
	}
	refusesServerUser := func(when string) {
		t.Helper()
		if c.runAs == nil {
			return
		}
		eventually(t, func() error {
			out, err := psqlAs(t, c.runAs, url)
			if err == nil || !strings.Contains(out, "Peer authentication failed") {
				return fmt.Errorf("%s: psql as the server user (uid %d): %v: %s; want peer authentication to refuse it", when, c.runAs.uid, err, out)
			}
			return nil
		})
	}
	admitsUs("new cluster")
	refusesServerUser("new cluster")

	// What an older smsblast left behind: trust for every local connection.
	for name, text := range map[string]string{"pg_hba.conf": "local all all trust\n", "pg_ident.conf": ""} {
		// WriteFile on the existing file keeps its owner, the server user.
		if err := os.WriteFile(filepath.Join(c.dataDir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bins, err := findServerBinaries(os.Getenv("PATH"), defaultBinGlobs, "")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := e.command(ctx, c, bins.pgCtl, "reload", "-D", c.dataDir); err != nil {
		t.Fatalf("pg_ctl reload: %v: %s", err, out)
	}
	if c.runAs != nil {
		eventually(t, func() error {
			if out, err := psqlAs(t, c.runAs, url); err != nil {
				return fmt.Errorf("the trusting setup does not let the server user in: %v: %s", err, out)
			}
			return nil
		})
	}

	if _, err := e.Start(ctx); err != nil {
		t.Fatalf("Start on a trusting cluster: %v", err)
	}
	hba, _ := os.ReadFile(filepath.Join(c.dataDir, "pg_hba.conf"))
	ident, _ := os.ReadFile(filepath.Join(c.dataDir, "pg_ident.conf"))
	me, err := invokingUser()
	if err != nil {
		t.Fatal(err)
	}
	if string(hba) != hbaConf || !hasIdentLine(ident, me) {
		t.Fatalf("after Start:\npg_hba.conf:\n%s\npg_ident.conf:\n%s", hba, ident)
	}
	admitsUs("after the upgrade")
	refusesServerUser("after the upgrade")

	// A running server whose map lacks us (as when root first uses a
	// cluster another user made): Start adds us and waits for the reload.
	if err := os.WriteFile(filepath.Join(c.dataDir, "pg_ident.conf"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := e.command(ctx, c, bins.pgCtl, "reload", "-D", c.dataDir); err != nil {
		t.Fatalf("pg_ctl reload: %v: %s", err, out)
	}
	eventually(t, func() error {
		if out, err := psqlAs(t, nil, url); err == nil {
			return fmt.Errorf("an empty map still lets us in: %s", out)
		}
		return nil
	})
	if _, err := e.Start(ctx); err != nil {
		t.Fatalf("Start with a map that lacks us: %v", err)
	}
	admitsUs("after Start added us")
	refusesServerUser("after Start added us")

	if got := countStarts(t, home); got != 1 {
		t.Fatalf("server started %d times, want 1: Start should reload it, not restart it", got)
	}
}
