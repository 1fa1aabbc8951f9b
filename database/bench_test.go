package database_test

import (
	"testing"

	"go.starlark.net/starlark"
)

// benchFunc compiles src, which defines f, against a handle on a fresh
// database, and returns f with a thread to call it on.
func benchFunc(b *testing.B, src string) (*starlark.Thread, starlark.Value) {
	b.Helper()
	h := testHandle(b)
	g, err := run(b, nil, env(h), src)
	if err != nil {
		b.Fatal(errorText(err))
	}
	return &starlark.Thread{Name: "bench"}, g["f"]
}

func BenchmarkFindOneByID(b *testing.B) {
	thread, f := benchFunc(b, `
id = db.todos.insert_one({"title": "milk", "done": False, "tags": ["a", "b"], "at": time.now()})
def f():
    return db.todos.find_one({"_id": id})
`)
	b.ReportAllocs()
	for b.Loop() {
		v, err := starlark.Call(thread, f, nil, nil)
		if err != nil {
			b.Fatal(errorText(err))
		}
		if v == starlark.None {
			b.Fatal("not found")
		}
	}
}

func BenchmarkInsertOne(b *testing.B) {
	thread, f := benchFunc(b, `
def f():
    return db.todos.insert_one({"title": "milk", "done": False, "tags": ["a", "b"], "at": time.now()})
`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := starlark.Call(thread, f, nil, nil); err != nil {
			b.Fatal(errorText(err))
		}
	}
}
