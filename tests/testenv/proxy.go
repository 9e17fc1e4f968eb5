package main

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// faultProxy is a TCP proxy in front of kube-apiserver (TLS passes through
// untouched: the serving certificate is for 127.0.0.1, whatever the port).
// Clients that should see network faults connect through it; the
// controller-manager does not.
//
//   - reset closes every open connection with an RST (SO_LINGER 0), as a
//     restarted load balancer or a killed socket does.
//   - freeze stops forwarding on every open connection, in both directions,
//     without closing it: nothing is read or written any more, so the peers'
//     bytes wait in kernel buffers and no RST or FIN is ever sent, as in a
//     network partition or a dead middlebox. New connections still work
//     (unless freezeNew), so a client that notices and reconnects recovers.
//   - heal resumes forwarding on frozen connections (a healed partition: what
//     was sent arrives late) and stops freezing new ones.
type faultProxy struct {
	ln     net.Listener
	target string

	mu        sync.Mutex
	conns     map[*proxyConn]struct{}
	freezeNew bool

	accepted atomic.Int64
	resets   atomic.Int64
	freezes  atomic.Int64
}

// proxyConn is one proxied connection: the client's side and the apiserver's.
type proxyConn struct {
	client, server net.Conn
	mu             sync.Mutex
	cond           *sync.Cond
	frozen         bool
	closed         bool
}

// proxyStats is what GET /proxy answers.
type proxyStats struct {
	Address   string `json:"address"`
	Open      int    `json:"open"`
	Frozen    int    `json:"frozen"`
	FreezeNew bool   `json:"freezeNew"`
	Accepted  int64  `json:"accepted"`
	Resets    int64  `json:"resets"`
	Freezes   int64  `json:"freezes"`
}

func newFaultProxy(target string) (*faultProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &faultProxy{ln: ln, target: target, conns: map[*proxyConn]struct{}{}}
	go p.serve()
	return p, nil
}

func (p *faultProxy) addr() string { return p.ln.Addr().String() }

func (p *faultProxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		p.accepted.Add(1)
		go p.handle(client)
	}
}

func (p *faultProxy) handle(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		// The apiserver is down: the client sees its connection refused as
		// if it had dialled the apiserver itself.
		resetConn(client)
		return
	}
	c := &proxyConn{client: client, server: server}
	c.cond = sync.NewCond(&c.mu)
	p.mu.Lock()
	c.frozen = p.freezeNew
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.pipe(server, client) }()
	go func() { defer wg.Done(); c.pipe(client, server) }()
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// pipe copies src to dst, holding each chunk, and the end of the stream
// (FIN or error), while the connection is frozen. When either side ends,
// both are closed (a FIN or RST passes through).
func (c *proxyConn) pipe(dst, src net.Conn) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		c.mu.Lock()
		for c.frozen && !c.closed {
			c.cond.Wait()
		}
		closed := c.closed
		c.mu.Unlock()
		if closed {
			break
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				c.close(true)
				return
			}
			break
		}
	}
	c.close(false)
}

// close closes both sides once; with rst the client side is reset.
func (c *proxyConn) close(rst bool) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
	if rst {
		resetConn(c.client)
	} else {
		_ = c.client.Close()
	}
	_ = c.server.Close()
}

func resetConn(conn net.Conn) {
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

// reset closes every open connection with an RST; it returns how many.
func (p *faultProxy) reset() int {
	p.mu.Lock()
	conns := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.close(true)
	}
	p.resets.Add(1)
	return len(conns)
}

// freeze freezes every open connection (and, with freezeNew, every new one
// until heal); it returns how many were frozen.
func (p *faultProxy) freeze(freezeNew bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.freezeNew = freezeNew
	n := 0
	for c := range p.conns {
		c.mu.Lock()
		if !c.closed && !c.frozen {
			c.frozen = true
			n++
		}
		c.mu.Unlock()
	}
	p.freezes.Add(1)
	return n
}

// heal resumes every frozen connection; it returns how many.
func (p *faultProxy) heal() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.freezeNew = false
	n := 0
	for c := range p.conns {
		c.mu.Lock()
		if c.frozen {
			c.frozen = false
			n++
			c.cond.Broadcast()
		}
		c.mu.Unlock()
	}
	return n
}

func (p *faultProxy) stats() proxyStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := proxyStats{Address: p.addr(), Open: len(p.conns), FreezeNew: p.freezeNew,
		Accepted: p.accepted.Load(), Resets: p.resets.Load(), Freezes: p.freezes.Load()}
	for c := range p.conns {
		c.mu.Lock()
		if c.frozen && !c.closed {
			s.Frozen++
		}
		c.mu.Unlock()
	}
	return s
}

func (p *faultProxy) close() {
	_ = p.ln.Close()
	p.reset()
}
