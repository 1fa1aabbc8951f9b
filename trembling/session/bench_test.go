package session_test

import (
	"bytes"
	"testing"

	"github.com/aspengo/aspengo/trembling/session"
	"github.com/aspengo/aspengo/trembling/session/cookiestore"
	"github.com/aspengo/aspengo/trembling/session/memstore"
	"github.com/aspengo/aspengo/trembling/session/sessiontest"
)

func BenchmarkManagerMemstore(b *testing.B) {
	sessiontest.BenchmarkManager(b, &session.Manager{Store: memstore.New()})
}

func BenchmarkManagerCookie(b *testing.B) {
	c, err := cookiestore.New(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		b.Fatal(err)
	}
	sessiontest.BenchmarkManager(b, &session.Manager{Codec: c})
}
