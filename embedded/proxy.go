package embedded

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
)

// Wire protocol constants (MongoDB OP_MSG and message header).
const (
	headerLen      = 16
	opMsg          = 2013
	opCompressed   = 2012
	flagChecksum   = 1 << 0
	flagMoreToCome = 1 << 1
	// maxMessageLen bounds one message: MongoDB's maxMessageSizeBytes
	// (48000000) with room to spare. Longer ones close the connection.
	maxMessageLen = 64 << 20
)

// proxy accepts the clients' connections and relays each to its own
// connection to FerretDB, one request and its reply at a time, holding
// writeMu across the round trip of every serialized command. It also
// keeps the _id indexes (idx) and the document versions (ver) up to date
// with the commands it relays.
type proxy struct {
	ln     net.Listener
	dial   func() (net.Conn, error) // connects to FerretDB
	logger *slog.Logger
	idx    *indexer
	ver    *versions

	writeMu sync.Mutex // one serialized command at a time

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// serve accepts connections until close is called.
func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				p.logger.Warn("embedded: accept", slog.Any("error", err))
			}
			return
		}
		if !p.track(c) {
			_ = c.Close()
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			p.relay(c)
		}()
	}
}

// track records c so that close can close it; false after close.
func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

// untrack closes c and forgets it.
func (p *proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

// close stops accepting, closes every connection (a request in flight
// fails as it would if a MongoDB server went away) and waits for the
// proxy's goroutines.
func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	_ = p.ln.Close()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// relay carries the messages of one client connection.
func (p *proxy) relay(client net.Conn) {
	server, err := p.dial()
	if err != nil {
		p.logger.Warn("embedded: connect to FerretDB", slog.Any("error", err))
		return
	}
	if !p.track(server) {
		_ = server.Close()
		return
	}
	defer p.untrack(server)

	err = p.pump(bufio.NewReader(client), client, bufio.NewReader(server), server)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		p.logger.Debug("embedded: connection ended", slog.Any("error", err))
	}
}

// pump relays requests from the client and the replies to each until a
// read or write fails.
func (p *proxy) pump(cr io.Reader, cw io.Writer, sr io.Reader, sw io.Writer) error {
	var req, resp []byte
	for {
		var err error
		if req, err = readMessage(cr, req); err != nil {
			return err
		}
		if err := p.roundTrip(inspect(req), req, cw, sr, sw, &resp); err != nil {
			return err
		}
	}
}

// roundTrip sends req to the server and relays its replies: none for a
// request with moreToCome, else replies until one without moreToCome
// (exhaust streams). Around it, it does what a says: the locks are taken
// before req is sent and released as soon as the first reply has arrived
// (or, without a reply, once req is sent), before writing to a possibly
// slow client; the versions are bumped before req is sent and again
// then; a collection that may be new is indexed before its reply reaches
// the client.
func (p *proxy) roundTrip(a action, req []byte, cw io.Writer, sr io.Reader, sw io.Writer, resp *[]byte) error {
	if a.serialize {
		p.writeMu.Lock()
	}
	if a.ddl {
		p.idx.mu.Lock()
	}
	p.ver.bump(a.bump)
	pending := true
	finish := func(reply []byte) {
		pending = false
		p.ver.bump(a.bump)
		if a.ddl {
			if a.forgetAll {
				p.idx.forgetAll()
			}
			for _, db := range a.forget {
				p.idx.forget(db)
			}
			p.idx.mu.Unlock()
		}
		if a.serialize {
			p.writeMu.Unlock()
		}
		if a.ensure && reply != nil && !p.idx.indexed(a.db, a.coll) &&
			replyOK(reply, a.upsertedOnly) {
			p.idx.ensure(context.Background(), a.db, a.coll)
		}
	}
	defer func() {
		if pending {
			finish(nil)
		}
	}()

	if _, err := sw.Write(req); err != nil {
		return err
	}
	if msgFlags(req)&flagMoreToCome != 0 {
		return nil
	}
	for {
		var err error
		if *resp, err = readMessage(sr, *resp); err != nil {
			return err
		}
		if pending {
			finish(*resp)
		}
		if _, err := cw.Write(*resp); err != nil {
			return err
		}
		if msgFlags(*resp)&flagMoreToCome == 0 {
			return nil
		}
	}
}

// readMessage reads one wire message into buf (reused when large enough).
func readMessage(r io.Reader, buf []byte) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return buf, err
	}
	n := int(int32(binary.LittleEndian.Uint32(h[:])))
	if n < headerLen || n > maxMessageLen {
		return buf, fmt.Errorf("wire message length %d out of range", n)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	copy(buf, h[:])
	if _, err := io.ReadFull(r, buf[4:]); err != nil {
		return buf, err
	}
	return buf, nil
}

// msgFlags returns the flag bits of an OP_MSG, 0 for other messages.
func msgFlags(m []byte) uint32 {
	if len(m) < headerLen+4 || binary.LittleEndian.Uint32(m[12:16]) != opMsg {
		return 0
	}
	return binary.LittleEndian.Uint32(m[16:20])
}
