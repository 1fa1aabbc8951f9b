package auth_test

import (
	"testing"

	"github.com/aspengo/aspengo/embedded/enginetest"
)

func TestMain(m *testing.M) { enginetest.Main(m) }
