package main

import (
	"errors"
	"fmt"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/database"
	"github.com/aspengo/aspengo/trembling"
)

// newRegistry wires the built-in hooks and builtins every site served by
// this command can use: connect and ObjectId from package database, and
// trembling's sessions, messages and auth. With conn nil (aspengo check)
// connect is a builtin that fails, so pages still compile without a
// database.
func newRegistry(conn *database.Connector, tc trembling.Config) (*aspengo.Registry, error) {
	reg := aspengo.NewRegistry()
	builtins := starlark.StringDict{"ObjectId": database.ObjectIDBuiltin(), "connect": noConnect}
	if conn != nil {
		builtins = conn.Builtins()
	}
	for name, b := range builtins {
		if err := reg.Builtin(name, b); err != nil {
			return nil, err
		}
	}
	if _, err := trembling.Register(reg, tc); err != nil {
		return nil, fmt.Errorf("trembling: %w", err)
	}
	return reg, nil
}

// noConnect stands in for connect where no database is open.
var noConnect = starlark.NewBuiltin("connect", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return nil, errors.New("no database is open here (aspengo check does not connect)")
})
