package simplate

import (
	"fmt"

	starlarkjson "go.starlark.net/lib/json"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// MaxJSONDepth is how deeply JSON text decoded for Starlark code may nest
// arrays and objects. Starlark's json.decode recurses once per level with
// no limit of its own, so a body of a few million "[" would overflow the
// goroutine stack, which kills the whole process.
const MaxJSONDepth = 512

// CheckJSONDepth returns an error when the JSON text s nests arrays and
// objects more than MaxJSONDepth deep. It does not otherwise validate s.
func CheckJSONDepth(s string) error {
	depth, inString := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inString {
			switch c {
			case '\\':
				i++ // skip the escaped character
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > MaxJSONDepth {
				return fmt.Errorf("json: nested more than %d levels deep", MaxJSONDepth)
			}
		case ']', '}':
			depth--
		}
	}
	return nil
}

// jsonModule is Starlark's json module whose decode refuses JSON nested
// deeper than MaxJSONDepth.
var jsonModule = func() *starlarkstruct.Module {
	members := starlark.StringDict{}
	for name, v := range starlarkjson.Module.Members {
		members[name] = v
	}
	decode := starlarkjson.Module.Members["decode"]
	members["decode"] = starlark.NewBuiltin("json.decode", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if len(args) > 0 {
			if s, ok := args[0].(starlark.String); ok {
				if err := CheckJSONDepth(string(s)); err != nil {
					return nil, fmt.Errorf("%s: %w", b.Name(), err)
				}
			}
		}
		return starlark.Call(thread, decode, args, kwargs)
	})
	m := &starlarkstruct.Module{Name: "json", Members: members}
	m.Freeze()
	return m
}()
