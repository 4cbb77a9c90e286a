package lease

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Keep renews the lease every interval (choose about a third of the ttl, so
// one failed renewal does not lose it) until ctx ends or the lease is lost.
// The channel receives one error wrapping ErrLost when the lease is lost,
// and is closed when Keep stops; the holder must stop using the resource as
// soon as it receives. A renewal that fails for another reason (network) is
// retried at the next tick until the hold would have expired by the clock.
func (l *Lease) Keep(ctx context.Context, interval time.Duration) <-chan error {
	lost := make(chan error, 1)
	go func() {
		defer close(lost)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			err := l.Renew(ctx)
			switch {
			case err == nil:
				continue
			case ctx.Err() != nil:
				return
			case errors.Is(err, ErrLost):
				lost <- err
				return
			}
			l.logger.Warn("lease renewal failed, will retry", "lease", l.path, "holder", l.holder, "error", err)
			if expires := l.ExpiresAt(); expires.IsZero() || !l.now().Before(expires) {
				lost <- fmt.Errorf("lease %s expired at %s while renewals failed (%w): %w", l.path, expires.Format(time.RFC3339Nano), err, ErrLost)
				return
			}
		}
	}()
	return lost
}
