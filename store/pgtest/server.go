package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"

	"github.com/smsblast/smsblast/store/pgserver"
)

// containerImage is the server the Docker path runs.
const containerImage = "postgres:16-alpine"

// tempPrefix names throw-away cluster homes; the PID that follows lets a
// later run remove the clusters of test binaries that died before Main
// could.
const tempPrefix = "smsblast-pgtest-"

// findServer picks the server (see the package doc for the order).
func findServer(ctx context.Context, logf func(string, ...any)) (*server, error) {
	if url := os.Getenv(EnvURL); url != "" {
		return &server{source: EnvURL, maintURL: url}, nil
	}

	dockerErr := dockerAvailable(ctx)
	if dockerErr == nil {
		s, err := startContainer(ctx)
		if err != nil {
			return nil, err
		}
		logf("pgtest: using a %s container", containerImage)
		return s, nil
	}

	s, localErr := startLocal(ctx)
	if localErr == nil {
		logf("pgtest: using a throw-away cluster from the local PostgreSQL binaries (Docker daemon: %v)", dockerErr)
		return s, nil
	}
	local := fmt.Sprintf("could not start them: %v", localErr)
	if errors.Is(localErr, pgserver.ErrNoServerBinaries) {
		local = "none found; Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql@16"
	}
	return nil, fmt.Errorf("no PostgreSQL for the tests; provide one of:\n"+
		"  - %s=postgres://user:pass@host:5432/postgres, a server where that user may CREATE DATABASE;\n"+
		"  - a running Docker daemon (%v);\n"+
		"  - the PostgreSQL server binaries initdb and pg_ctl, on PATH or under /usr/lib/postgresql/*/bin (%s)",
		EnvURL, dockerErr, local)
}

// dockerAvailable reports, within two seconds and without testcontainers'
// noise, whether a Docker daemon answers.
func dockerAvailable(ctx context.Context) (err error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	// testcontainers panics in some misconfigurations; that just means no.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("docker client: %v", r)
		}
	}()
	c, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return fmt.Errorf("none found: %w", err)
	}
	defer c.Close()
	if _, err := c.Ping(ctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("none answers: %w", err)
	}
	return nil
}

func startContainer(ctx context.Context) (*server, error) {
	ctr, err := tcpostgres.Run(ctx, containerImage,
		tcpostgres.WithDatabase("postgres"),
		tcpostgres.WithUsername("smsblast"),
		tcpostgres.WithPassword("smsblast"),
		// Throw-away data: skip durability; room for parallel tests.
		testcontainers.WithCmd("postgres", "-c", "fsync=off", "-c", "synchronous_commit=off",
			"-c", "full_page_writes=off", "-c", "max_connections=200"),
		tcpostgres.BasicWaitStrategies(),
	)
	terminate := func(context.Context) error { return testcontainers.TerminateContainer(ctr) }
	if err != nil {
		_ = terminate(ctx)
		return nil, fmt.Errorf("start %s container: %w", containerImage, err)
	}
	url, err := ctr.ConnectionString(ctx, "sslmode=disable")
	if err != nil {
		_ = terminate(ctx)
		return nil, fmt.Errorf("read %s container address: %w", containerImage, err)
	}
	return &server{source: "a " + containerImage + " container", maintURL: url, teardown: terminate}, nil
}

// startLocal starts a throw-away cluster from the local server binaries.
func startLocal(ctx context.Context) (*server, error) {
	removeOrphans(ctx)
	home, err := os.MkdirTemp("", tempPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, fmt.Errorf("create cluster home: %w", err)
	}
	// As root the server runs as another user, who must reach the cluster:
	// let it search (not list) this directory of ours, so the cluster stays
	// here rather than under /var/lib/smsblast.
	if err := os.Chmod(home, 0o711); err != nil {
		os.RemoveAll(home)
		return nil, fmt.Errorf("open cluster home to the server user: %w", err)
	}
	// It authenticates like the embedded default, peer on its socket for
	// the OS user running the tests (root when root): nothing simpler is
	// needed, since every test and every binary a test runs is that user.
	e := &pgserver.Embedded{Home: home, Ephemeral: true}
	destroy := func(ctx context.Context) error {
		err := e.Destroy(ctx)
		return errors.Join(err, os.RemoveAll(home))
	}
	if _, err := e.Start(ctx); err != nil {
		_ = destroy(ctx)
		return nil, err
	}
	return &server{source: "a throw-away cluster in " + home, maintURL: e.MaintenanceURL(), teardown: destroy}, nil
}

// removeOrphans stops and deletes throw-away clusters whose test binary died
// (a panic, a timeout, kill -9) before Main could tear them down, so they do
// not pile up as running servers.
func removeOrphans(ctx context.Context) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+"*"))
	for _, dir := range dirs {
		pidText, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(dir), tempPrefix), "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		e := &pgserver.Embedded{Home: dir, Ephemeral: true}
		if e.Destroy(ctx) == nil {
			os.RemoveAll(dir)
		}
	}
}
