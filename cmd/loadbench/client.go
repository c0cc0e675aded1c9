package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// conn is one keep-alive HTTP/1.1 connection of the load generator, used by one goroutine.
//
// It is deliberately not net/http's client: on a 2-CPU machine the generator's own CPU is taken
// from the service and the database it measures, and net/http's transport (two goroutines and
// a channel hand-off per connection, header maps per response) cost about as much CPU per
// request as the service's whole HTTP layer. This client writes each request with one system
// call and parses only what it needs from the answer (status, Content-Length or chunked
// framing, Connection: close), like wrk does. It speaks to our own service only.
type conn struct {
	addr string // host:port
	nc   net.Conn
	r    *bufio.Reader
	buf  []byte // the request being written, reused
}

// requestTimeout bounds one request, so a stuck service fails the benchmark instead of hanging it.
const requestTimeout = 30 * time.Second

// newConn returns a connection to addr (host:port); it dials on first use.
func newConn(addr string) *conn { return &conn{addr: addr} }

// do sends one request and reads the whole answer; it returns an error when the status is not
// want. The connection is redialled after any error, so one bad answer costs one request.
func (c *conn) do(method, path, token, body string, want int) error {
	status, err := c.roundTrip(method, path, token, body)
	if err != nil {
		c.close()
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if status != want {
		return fmt.Errorf("%s %s: status %d, want %d", method, path, status, want)
	}
	return nil
}

func (c *conn) close() {
	if c.nc != nil {
		_ = c.nc.Close()
		c.nc = nil
	}
}

func (c *conn) roundTrip(method, path, token, body string) (int, error) {
	if c.nc == nil {
		nc, err := net.Dial("tcp", c.addr)
		if err != nil {
			return 0, err
		}
		c.nc = nc
		if c.r == nil {
			c.r = bufio.NewReaderSize(nc, 16<<10)
		} else {
			c.r.Reset(nc)
		}
	}
	if err := c.nc.SetDeadline(time.Now().Add(requestTimeout)); err != nil {
		return 0, err
	}
	b := append(c.buf[:0], method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.addr...)
	if token != "" {
		b = append(b, "\r\nAuthorization: Bearer "...)
		b = append(b, token...)
	}
	if body != "" {
		b = append(b, "\r\nContent-Type: application/json"...)
	}
	if body != "" || method == "POST" || method == "PUT" || method == "PATCH" {
		b = append(b, "\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
	}
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	c.buf = b
	if _, err := c.nc.Write(b); err != nil {
		return 0, err
	}
	return c.readResponse()
}

var (
	headerContentLength = []byte("content-length:")
	headerChunked       = []byte("transfer-encoding: chunked")
	headerClose         = []byte("connection: close")
)

// readResponse reads a response's head and discards its body, leaving the reader at the next
// response.
func (c *conn) readResponse() (int, error) {
	line, err := c.line()
	if err != nil {
		return 0, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, fmt.Errorf("malformed status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("malformed status line %q", line)
	}
	length, chunked, closing := -1, false, false
	for {
		line, err := c.line()
		if err != nil {
			return 0, err
		}
		if len(line) == 0 {
			break
		}
		switch {
		case hasPrefixFold(line, headerContentLength):
			length, err = strconv.Atoi(string(bytes.TrimSpace(line[len(headerContentLength):])))
			if err != nil || length < 0 {
				return 0, fmt.Errorf("malformed header %q", line)
			}
		case bytes.EqualFold(line, headerChunked):
			chunked = true
		case bytes.EqualFold(line, headerClose):
			closing = true
		}
	}
	switch {
	case status == 204 || status == 304 || status < 200:
		// No body, whatever the headers say (RFC 9112, section 6.3).
	case chunked:
		err = c.discardChunked()
	case length >= 0:
		_, err = c.r.Discard(length)
	default:
		// Without framing the body runs to the end of the connection.
		_, err = io.Copy(io.Discard, c.r)
		closing = true
	}
	if err != nil {
		return 0, err
	}
	if closing {
		c.close()
	}
	return status, nil
}

// hasPrefixFold reports whether b begins with prefix, ignoring ASCII case (header names).
func hasPrefixFold(b, prefix []byte) bool {
	return len(b) >= len(prefix) && bytes.EqualFold(b[:len(prefix)], prefix)
}

// discardChunked skips a chunked body and its (empty) trailer.
func (c *conn) discardChunked() error {
	for {
		line, err := c.line()
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(line, []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("malformed chunk size %q", line)
		}
		if n == 0 {
			for {
				trailer, err := c.line()
				if err != nil || len(trailer) == 0 {
					return err
				}
			}
		}
		if _, err := c.r.Discard(int(n) + 2); err != nil { // the chunk and its CRLF
			return err
		}
	}
}

// line reads one CRLF-terminated line without its terminator. The slice is valid until the
// next read.
func (c *conn) line() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, errors.New("header line too long")
	}
	if err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(line[:len(line)-1], []byte("\r")), nil
}
