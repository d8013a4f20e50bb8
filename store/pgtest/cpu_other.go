//go:build !linux

package pgtest

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// ServerCPU is the CPU time the PostgreSQL server behind pool has used so
// far. It reads /proc, so it is known only on Linux.
func ServerCPU(ctx context.Context, pool *pgxpool.Pool) (time.Duration, error) {
	return 0, errors.New("the server's CPU time is read from /proc, on Linux only")
}
