package trembling

import (
	"net"
	"sync"
	"time"
)

// DefaultLookupsPerMinute is how many requests per minute one client
// address may ask user_exists about, unless a startup hook sets
// website.user_exists_per_minute.
const DefaultLookupsPerMinute = 20

// maxLookupClients bounds the addresses a lookupLimiter remembers.
const maxLookupClients = 10000

// lookupLimiter counts, per client address and minute, the requests that
// asked user_exists, so that a page exposing it (a "is this name free?"
// check) cannot be used to list the accounts quickly. It lives in the
// process: several processes each allow the limit.
type lookupLimiter struct {
	perMinute int // 0: no limit

	mu      sync.Mutex
	minute  int64
	clients map[string]int
}

// allow counts one request of remoteAddr and reports whether it is within
// the limit, and if not how long until the next minute.
func (l *lookupLimiter) allow(remoteAddr string, now time.Time) (bool, time.Duration) {
	if l.perMinute <= 0 {
		return true, 0
	}
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	minute := now.Unix() / 60
	l.mu.Lock()
	defer l.mu.Unlock()
	if minute != l.minute || len(l.clients) >= maxLookupClients {
		// A new minute, or too many addresses to remember: start afresh
		// (which can only let more through, never lock anyone out).
		l.minute, l.clients = minute, map[string]int{}
	}
	if l.clients[host] >= l.perMinute {
		return false, time.Unix((minute+1)*60, 0).Sub(now)
	}
	l.clients[host]++
	return true, 0
}
