package aspengo

import (
	"fmt"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo/simplate"
)

// maxJSONCheckDepth bounds the nesting checkJSONBody follows, as
// simplate.ToGo does.
const maxJSONCheckDepth = 64

// checkJSONBody refuses a response.body that JSON cannot carry: a
// function, anywhere in it. Templates drop callables silently; a JSON
// body that said null where the page meant data would hide the mistake.
func checkJSONBody(v starlark.Value) error {
	return checkJSONValue(v, "response.body", 0)
}

func checkJSONValue(v starlark.Value, where string, depth int) error {
	if depth > maxJSONCheckDepth {
		return nil // cut off by the conversion as well
	}
	switch v := v.(type) {
	case simplate.TemplateValuer:
		return nil // request, response, website: their own form
	case starlark.Callable:
		return fmt.Errorf("%s: a %s cannot be encoded as JSON", where, v.Type())
	case *starlark.Dict:
		for _, kv := range v.Items() {
			if err := checkJSONValue(kv[1], fmt.Sprintf("%s[%s]", where, kv[0]), depth+1); err != nil {
				return err
			}
		}
	case starlark.Indexable: // list, tuple
		for i := range v.Len() {
			if err := checkJSONValue(v.Index(i), fmt.Sprintf("%s[%d]", where, i), depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}
