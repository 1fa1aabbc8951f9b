package embedded

import (
	"encoding/binary"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestInspect(t *testing.T) {
	cmdIn := func(db string, d bson.D) bson.D { return append(d, bson.E{Key: "$db", Value: db}) }
	id := func(s any) bson.D { return bson.D{{Key: "_id", Value: s}} }
	doc := func(db, coll, id string) target { return target{scope: scopeDoc, db: db, coll: coll, id: id} }
	coll := func(db, coll string) target { return target{scope: scopeColl, db: db, coll: coll} }
	oid := bson.NewObjectID()
	tests := []struct {
		name string
		msg  []byte
		want action
	}{
		{"find", opMsgBytes(t, 0, kind0(t, cmdIn("app", bson.D{{Key: "find", Value: "s"}, {Key: "filter", Value: id("a")}}))),
			action{db: "app", coll: "s"}},
		{"insert: indexed, no bump", opMsgBytes(t, 0, kind0(t, cmdIn("app", bson.D{{Key: "insert", Value: "s"}})), kind1(t, "documents", id("a"))),
			action{ensure: true, db: "app", coll: "s"}},
		{"update by _id, sequence", opMsgBytes(t, 0, kind0(t, cmdIn("app", bson.D{{Key: "update", Value: "s"}})),
			kind1(t, "updates", bson.D{{Key: "q", Value: id("a")}, {Key: "u", Value: bson.D{}}}, bson.D{{Key: "q", Value: id("b")}, {Key: "u", Value: bson.D{}}, {Key: "multi", Value: false}})),
			action{serialize: true, ensure: true, db: "app", coll: "s", bump: []target{doc("app", "s", "a"), doc("app", "s", "b")}}},
		{"update by _id, array in body", opMsgBytes(t, 0, kind0(t, cmdIn("app", bson.D{{Key: "update", Value: "s"}, {Key: "updates", Value: bson.A{bson.D{{Key: "q", Value: id("a")}}}}}))),
			action{serialize: true, ensure: true, db: "app", coll: "s", bump: []target{doc("app", "s", "a")}}},
		{"update: multi, other filters, ObjectID", opMsgBytes(t, 0, kind0(t, cmdIn("app", bson.D{{Key: "update", Value: "s"}})),
			kind1(t, "updates",
				bson.D{{Key: "q", Value: id("a")}, {Key: "multi", Value: true}},
				bson.D{{Key: "q", Value: bson.D{{Key: "_id", Value: "a"}, {Key: "x", Value: 1}}}},
				bson.D{{Key: "q", Value: bson.D{{Key: "_id", Value: bson.D{{Key: "$eq", Value: "a"}}}}}},
				bson.D{{Key: "q", Value: id(oid)}},
				bson.D{{Key: "q", Value: bson.D{}}},
			)),
			action{serialize: true, ensure: true, db: "app", coll: "s", bump: []target{coll("app", "s"), coll("app", "s"), coll("app", "s"), coll("app", "s"), coll("app", "s")}}},
		{"update without updates", opMsgBytes(t, 0, kind0(t, cmdIn("app", bson.D{{Key: "update", Value: "s"}}))),
			action{serialize: true, ensure: true, db: "app", coll: "s", bump: []target{{scope: scopeAll}}}},
		{"delete", opMsgBytes(t, 0, kind0(t, cmdIn("app", bson.D{{Key: "delete", Value: "s"}})),
			kind1(t, "deletes", bson.D{{Key: "q", Value: id("a")}, {Key: "limit", Value: 1}}, bson.D{{Key: "q", Value: bson.D{{Key: "n", Value: 1}}}, {Key: "limit", Value: 0}})),
			action{serialize: true, db: "app", coll: "s", bump: []target{doc("app", "s", "a"), coll("app", "s")}}},
		{"findAndModify by _id", opMsgBytes(t, 0, kind0(t, cmdIn("app", bson.D{{Key: "findAndModify", Value: "s"}, {Key: "query", Value: id("a")}}))),
			action{serialize: true, ensure: true, upsertedOnly: true, db: "app", coll: "s", bump: []target{doc("app", "s", "a")}}},
		{"findAndModify without query", opMsgBytes(t, 0, kind0(t, cmdIn("app", bson.D{{Key: "findAndModify", Value: "s"}, {Key: "remove", Value: true}}))),
			action{serialize: true, ensure: true, upsertedOnly: true, db: "app", coll: "s", bump: []target{coll("app", "s")}}},
		{"drop", opMsgBytes(t, 0, kind0(t, cmdIn("app", bson.D{{Key: "drop", Value: "s"}}))),
			action{ddl: true, forget: []string{"app"}, db: "app", coll: "s", bump: []target{coll("app", "s")}}},
		{"dropDatabase", opMsgBytes(t, 0, kind0(t, cmdIn("app", bson.D{{Key: "dropDatabase", Value: 1}}))),
			action{ddl: true, forget: []string{"app"}, db: "app", bump: []target{{scope: scopeDB, db: "app"}}}},
		{"renameCollection", opMsgBytes(t, 0, kind0(t, cmdIn("admin", bson.D{{Key: "renameCollection", Value: "app.s"}, {Key: "to", Value: "other.t.u"}}))),
			action{ddl: true, forget: []string{"app", "other"}, db: "admin", coll: "app.s", bump: []target{coll("app", "s"), coll("other", "t.u")}}},
		{"OP_QUERY", func() []byte {
			m := opMsgBytes(t, 0, kind0(t, cmdIn("app", bson.D{{Key: "drop", Value: "s"}})))
			binary.LittleEndian.PutUint32(m[12:], 2004)
			return m
		}(), action{}},
		{"OP_COMPRESSED", func() []byte {
			m := opMsgBytes(t, 0, kind0(t, cmdIn("app", bson.D{{Key: "find", Value: "s"}})))
			binary.LittleEndian.PutUint32(m[12:], opCompressed)
			return m
		}(), unknownAction},
		{"two bodies", opMsgBytes(t, 0, kind0(t, cmdIn("app", bson.D{{Key: "find", Value: "s"}})), kind0(t, cmdIn("app", bson.D{{Key: "drop", Value: "s"}}))),
			unknownAction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := inspect(tt.msg)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(action{}, target{})); diff != "" {
				t.Errorf("inspect (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVersions(t *testing.T) {
	v := newVersions(3)
	get := func() [4]uint64 {
		return [4]uint64{v.get("app", "s", "a"), v.get("app", "s", "b"), v.get("app", "t", "a"), v.get("other", "s", "a")}
	}
	changed := func(before, after [4]uint64) [4]bool {
		var c [4]bool
		for i := range before {
			c[i] = before[i] != after[i]
		}
		return c
	}
	steps := []struct {
		name string
		bump []target
		want [4]bool // which of get's versions change
	}{
		{"doc a", []target{{scope: scopeDoc, db: "app", coll: "s", id: "a"}}, [4]bool{true, false, false, false}},
		{"doc a again", []target{{scope: scopeDoc, db: "app", coll: "s", id: "a"}}, [4]bool{true, false, false, false}},
		{"doc b", []target{{scope: scopeDoc, db: "app", coll: "s", id: "b"}}, [4]bool{false, true, false, false}},
		{"collection s", []target{{scope: scopeColl, db: "app", coll: "s"}}, [4]bool{true, true, false, false}},
		{"doc a after collection", []target{{scope: scopeDoc, db: "app", coll: "s", id: "a"}}, [4]bool{true, false, false, false}},
		{"database app", []target{{scope: scopeDB, db: "app"}}, [4]bool{true, true, true, false}},
		{"all", []target{{scope: scopeAll}}, [4]bool{true, true, true, true}},
		{"third tracked doc", []target{{scope: scopeDoc, db: "app", coll: "t", id: "a"}}, [4]bool{false, false, true, false}},
		// A fourth document overflows the bound: every version moves on.
		{"overflow", []target{{scope: scopeDoc, db: "x", coll: "y", id: "z"}}, [4]bool{true, true, true, true}},
		{"doc b after overflow", []target{{scope: scopeDoc, db: "app", coll: "s", id: "b"}}, [4]bool{false, true, false, false}},
		{"nothing", nil, [4]bool{}},
	}
	var seen [4]map[uint64]bool // per document: its versions so far
	for i := range seen {
		seen[i] = map[uint64]bool{}
	}
	for _, s := range steps {
		before := get()
		v.bump(s.bump)
		after := get()
		if got := changed(before, after); got != s.want {
			t.Errorf("%s: changed %v, want %v (versions %v -> %v)", s.name, got, s.want, before, after)
		}
		for i, x := range after {
			if s.want[i] && seen[i][x] {
				t.Errorf("%s: document %d: version %d taken again", s.name, i, x)
			}
			seen[i][x] = true
		}
	}
	if len(v.docs) > 3 {
		t.Errorf("%d documents tracked, bound 3", len(v.docs))
	}
	v.close()
	if a, b := v.get("app", "s", "a"), v.get("app", "s", "a"); a == b {
		t.Errorf("after close, Version returned %d twice", a)
	}
}
