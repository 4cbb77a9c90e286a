// Package portmux serves gRPC and HTTP/1.1 on one port, as Google's APIs are reachable on one
// host: each accepted connection goes to the gRPC server when it opens with the HTTP/2 client
// preface (gRPC clients use HTTP/2 with prior knowledge) and to the HTTP server otherwise. The
// local servers use it so one *_EMULATOR_HOST address serves both their gRPC API and their REST
// or JWKS endpoints; the gRPC side is served natively (grpc.Server.Serve), not through
// ServeHTTP, which is much slower.
//
// Reference: docs/local-stack.md#local-servers-that-speak-googles-apis.
package portmux

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"
)

// http2Preface is what a gRPC (HTTP/2 prior knowledge) client sends first.
var http2Preface = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

// Serve routes the connections accepted on lis to g and h until lis is closed, then returns
// once both servers have stopped serving.
func Serve(lis net.Listener, g *grpc.Server, h *http.Server, logger *slog.Logger) {
	grpcLis, httpLis := newChanListener(lis.Addr()), newChanListener(lis.Addr())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		g.Serve(grpcLis)
	}()
	go func() {
		defer wg.Done()
		h.Serve(httpLis)
	}()
	sniffLoop(lis, grpcLis, httpLis, logger)
	grpcLis.Close()
	httpLis.Close()
	wg.Wait()
}

// sniffLoop accepts connections and routes each to gRPC or HTTP/1.1 by its first bytes.
func sniffLoop(lis net.Listener, grpcLis, httpLis *chanListener, logger *slog.Logger) {
	for {
		conn, err := lis.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		go func() {
			pc, isH2, err := sniff(conn)
			if err != nil {
				logger.Debug("sniffing connection", "error", err)
				conn.Close()
				return
			}
			if isH2 {
				grpcLis.deliver(pc)
			} else {
				httpLis.deliver(pc)
			}
		}()
	}
}

// sniff reads just enough bytes to tell the HTTP/2 preface from HTTP/1.1.
func sniff(conn net.Conn) (net.Conn, bool, error) {
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, len(http2Preface))
	n := 0
	for n < len(buf) {
		m, err := conn.Read(buf[n:])
		n += m
		if !bytes.Equal(buf[:n], http2Preface[:n]) {
			break
		}
		if err != nil {
			if err == io.EOF && n > 0 {
				break
			}
			return nil, false, err
		}
	}
	conn.SetReadDeadline(time.Time{})
	return &prefixConn{Conn: conn, prefix: buf[:n]}, bytes.Equal(buf[:n], http2Preface), nil
}

// prefixConn replays the sniffed bytes before reading from the connection.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// chanListener is a net.Listener fed connections through a channel.
type chanListener struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *chanListener) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.closed:
		c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
