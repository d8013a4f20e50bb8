package pgtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// ServerCPU is the CPU time (user and system) the PostgreSQL server behind
// pool has used so far: its postmaster, its live processes and those that
// have exited. Benchmarks read it before and after a run to report the
// database's CPU per operation, a figure much steadier than wall time on a
// shared machine. It needs the server on this machine and its data
// directory readable (the throw-away cluster); elsewhere it returns an error.
func ServerCPU(ctx context.Context, pool *pgxpool.Pool) (time.Duration, error) {
	var dir string
	if err := pool.QueryRow(ctx, `SELECT current_setting('data_directory')`).Scan(&dir); err != nil {
		return 0, fmt.Errorf("read the server's data directory: %w", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("find the postmaster: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	postmaster, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return 0, fmt.Errorf("find the postmaster: %q is not a process id", line)
	}
	// The postmaster's own time plus that of the children it has reaped
	// (cutime, cstime), then every live child's.
	_, ticks, err := procTicks(postmaster, true)
	if err != nil {
		return 0, err
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		pid, err := strconv.Atoi(filepath.Base(p))
		if err != nil || pid == postmaster {
			continue
		}
		if ppid, t, err := procTicks(pid, false); err == nil && ppid == postmaster {
			ticks += t
		}
	}
	// USER_HZ, the unit of /proc's times, is 100 on Linux.
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// procTicks reads a process's parent and CPU ticks from /proc/PID/stat;
// withChildren adds those of its reaped children.
func procTicks(pid int, withChildren bool) (ppid int, ticks int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name, in parentheses, may hold spaces: fields start after it.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 15 {
		return 0, 0, fmt.Errorf("read /proc/%d/stat: %d fields", pid, len(f))
	}
	ppid, _ = strconv.Atoi(f[1])
	n := 2 // utime, stime: fields 14 and 15 of stat, 11 and 12 here
	if withChildren {
		n = 4 // and cutime, cstime
	}
	for _, v := range f[11 : 11+n] {
		t, _ := strconv.ParseInt(v, 10, 64)
		ticks += t
	}
	return ppid, ticks, nil
}
