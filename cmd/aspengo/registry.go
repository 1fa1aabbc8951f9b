package main

import "github.com/aspengo/aspengo"

// newRegistry wires the built-in hooks and builtins every site served by
// this command can use.
func newRegistry() *aspengo.Registry {
	return aspengo.NewRegistry()
}
