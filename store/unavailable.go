package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"
)

// ErrUnavailable reports that a networked store (Redis, PostgreSQL) could not be
// reached or could not serve the call now: refused or lost connections, timeouts, a
// server starting, failing over or shutting down. The call may succeed later. Callers
// answer 503, never as if a credential had failed.
var ErrUnavailable = errors.New("store: unavailable")

// unavailable wraps err as ErrUnavailable from backend when it is a connection-level
// failure, and returns nil otherwise.
func unavailable(backend string, err error) error {
	if !connectionFailure(err) {
		return nil
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, backend, err)
}

// connectionFailure reports whether err says the server could not be reached or could
// not serve, rather than that it refused the call itself.
func connectionFailure(err error) bool {
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr):
		// The server answered, refusing: judged by its code even when the refusal ended
		// a connection attempt (a wrong password, 28P01, or a missing database, 3D000,
		// are the operator's to fix, not an outage). Class 08 connection exception;
		// 57P01-57P03 shutdown and not accepting connections yet; 53300 too many
		// connections.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" ||
			pgErr.Code == "57P03" || pgErr.Code == "53300"
	case errors.As(err, &netErr), errors.As(err, &connectErr),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrPoolExhausted),
		redis.IsLoadingError(err), redis.IsReadOnlyError(err), redis.IsClusterDownError(err),
		redis.IsMasterDownError(err), redis.IsTryAgainError(err), redis.IsMaxClientsError(err):
		return true
	}
	return pgconn.Timeout(err)
}
