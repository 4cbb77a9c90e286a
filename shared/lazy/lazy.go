// Package lazy builds a function's clients on its first request instead of in init(), so a cold
// start never dials and a bad setting is answered with a 500 that says which. Unlike a
// sync.Once, a failed build is not remembered: the next request tries again, so an instance
// does not live on with a nil client after a passing failure.
//
// Reference: docs/performance.md#cold-start.
package lazy

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
)

// Value is a value built on first use by build; a failed build is retried on the next Get.
type Value[T any] struct {
	build func(context.Context) (T, error)
	mu    sync.Mutex // serialises builds
	v     atomic.Pointer[T]
}

// NewValue returns a Value that build makes.
func NewValue[T any](build func(context.Context) (T, error)) *Value[T] {
	return &Value[T]{build: build}
}

// Get returns the value, building it first if no build has succeeded yet. The build gets a
// context that is not the caller's: what it creates (clients, streams) outlives the request.
func (l *Value[T]) Get(ctx context.Context) (T, error) {
	if v := l.v.Load(); v != nil {
		return *v, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if v := l.v.Load(); v != nil {
		return *v, nil
	}
	v, err := l.build(context.WithoutCancel(ctx))
	if err != nil {
		return v, err
	}
	l.v.Store(&v)
	return v, nil
}

// Handler is an http.Handler built on the first request.
type Handler struct {
	entryPoint string
	log        *slog.Logger
	h          *Value[http.Handler]
}

// NewHandler returns the handler of entryPoint that build makes on the first request.
func NewHandler(entryPoint string, log *slog.Logger, build func(context.Context) (http.Handler, error)) *Handler {
	if log == nil {
		log = slog.Default()
	}
	return &Handler{entryPoint: entryPoint, log: log, h: NewValue(build)}
}

// ServeHTTP serves r with the built handler, or answers 500 {"error": "... is not ready: ..."}.
func (l *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, err := l.h.Get(r.Context())
	if err != nil {
		l.log.ErrorContext(r.Context(), "starting the function", "entry_point", l.entryPoint, "error", err)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_ = json.NewEncoder(w).Encode(struct {
			Error string `json:"error"`
		}{fmt.Sprintf("%s is not ready: %v", l.entryPoint, err)})
		return
	}
	h.ServeHTTP(w, r)
}

// FromEnv is the handler of entryPoint that, on the first request, reads its configuration from
// the process environment with load and makes the handler of it with build: what every
// function's init registers.
func FromEnv[C any](entryPoint string, log *slog.Logger, load func(func(string) (string, bool)) (C, error),
	build func(context.Context, C) (http.Handler, error)) *Handler {
	return NewHandler(entryPoint, log, func(ctx context.Context) (http.Handler, error) {
		cfg, err := load(os.LookupEnv)
		if err != nil {
			return nil, err
		}
		return build(ctx, cfg)
	})
}
