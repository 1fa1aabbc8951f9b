package memstore_test

import (
	"testing"

	"github.com/aspengo/aspengo/trembling/session"
	"github.com/aspengo/aspengo/trembling/session/memstore"
	"github.com/aspengo/aspengo/trembling/session/sessiontest"
)

func TestStore(t *testing.T) {
	sessiontest.TestStore(t, func(t *testing.T) session.Store { return memstore.New() })
}

// BenchmarkSized measures a session read and save among 1 k, 100 k and
// 1 M stored sessions (see sessiontest.BenchmarkSized).
func BenchmarkSized(b *testing.B) {
	sessiontest.BenchmarkSized(b, func(*testing.B) session.Store { return memstore.New() })
}
