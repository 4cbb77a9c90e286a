package tasksemulator

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// http2Preface is what a gRPC client (HTTP/2 with prior knowledge) sends first;
// anything else on the port is served as HTTP/1.1 (the JWKS endpoint).
var http2Preface = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

// sniffLoop accepts connections on lis and hands each to grpcLis or httpLis
// by its first bytes, until lis is closed.
func sniffLoop(lis net.Listener, grpcLis, httpLis *chanListener) {
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

// sniff reads until the bytes read stop matching the HTTP/2 preface or match it whole.
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

// prefixConn replays the sniffed bytes before reading on from the connection.
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

// chanListener is a net.Listener fed connections by sniffLoop.
type chanListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
