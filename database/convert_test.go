package database_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	starlarktime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo/database"
)

// eval evaluates a Starlark expression with the package's builtins.
func eval(t *testing.T, expr string) starlark.Value {
	t.Helper()
	pre := starlark.StringDict{"ObjectId": database.ObjectIDBuiltin(), "time": starlarktime.Module, "badstr": starlark.String("\xff")}
	g, err := starlark.ExecFileOptions(fileOptions, &starlark.Thread{}, "expr.star", "cyclic = []\ncyclic.append(cyclic)\nv = "+expr, pre)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return g["v"]
}

func TestToBSON(t *testing.T) {
	t.Parallel()
	oid, _ := bson.ObjectIDFromHex("5f0c8e2a9d3b4c1a2b3c4d5e")
	tests := []struct {
		expr string
		want any
	}{
		{`None`, nil},
		{`True`, true},
		{`0`, int32(0)},
		{`2147483647`, int32(2147483647)},
		{`-2147483648`, int32(-2147483648)},
		{`2147483648`, int64(2147483648)},
		{`-(1 << 63)`, int64(-1 << 63)},
		{`(1 << 63) - 1`, int64(1<<63 - 1)},
		{`1.5`, 1.5},
		{`"é"`, "é"},
		{`b"\x00a"`, bson.Binary{Subtype: 0, Data: []byte("\x00a")}},
		{`[1, "a"]`, bson.A{int32(1), "a"}},
		{`(1, (2,))`, bson.A{int32(1), bson.A{int32(2)}}},
		{`{"b": 1, "a": {"c": []}}`, bson.D{{Key: "b", Value: int32(1)}, {Key: "a", Value: bson.D{{Key: "c", Value: bson.A{}}}}}},
		{`ObjectId("5f0c8e2a9d3b4c1a2b3c4d5e")`, oid},
		{`time.from_timestamp(1, 999999)`, bson.DateTime(1000)},
		{`time.from_timestamp(-1, 0)`, bson.DateTime(-1000)},
	}
	for _, tt := range tests {
		got, err := database.ToBSON(eval(t, tt.expr))
		if err != nil {
			t.Errorf("ToBSON(%s): %v", tt.expr, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ToBSON(%s) (-want +got):\n%s", tt.expr, diff)
		}
	}

	refused := []struct{ expr, want string }{
		{`{1: "x"}`, `dict key 1 is a int: document keys must be str`},
		{`{("a",): "x"}`, `dict key ("a",) is a tuple`},
		{`{"a": [{"b": {None: 1}}]}`, `a[0].b: dict key None is a NoneType`},
		{`set([1])`, `a set cannot be stored`},
		{`[len]`, `[0]: a builtin_function_or_method cannot be stored`},
		{`{"f": lambda x: x}`, `f: a function cannot be stored`},
		{`1 << 63`, `does not fit in 64 bits`},
		{`-(1 << 63) - 1`, `does not fit in 64 bits`},
		{`badstr`, `not valid UTF-8`},
		{`{badstr: 1}`, `dict key "\xff" is not valid UTF-8`},
		{`cyclic`, `nested deeper than 100 levels`},
		{`time.parse_duration("1s")`, `a time.duration cannot be stored`},
	}
	for _, tt := range refused {
		_, err := database.ToBSON(eval(t, tt.expr))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ToBSON(%s): %v, want an error containing %q", tt.expr, err, tt.want)
		}
	}
}

func TestFromBSON(t *testing.T) {
	t.Parallel()
	oid, _ := bson.ObjectIDFromHex("5f0c8e2a9d3b4c1a2b3c4d5e")
	raw, err := bson.Marshal(bson.D{{Key: "z", Value: int64(1)}, {Key: "a", Value: bson.A{"x", bson.D{{Key: "n", Value: nil}}}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   any
		want string // repr
	}{
		{nil, "None"},
		{bson.Null{}, "None"},
		{true, "True"},
		{int32(-5), "-5"},
		{int64(1 << 62), "4611686018427387904"},
		{7, "7"},
		{2.5, "2.5"},
		{"s", `"s"`},
		{[]byte("b"), `b"b"`},
		{bson.Binary{Subtype: 0, Data: []byte{1}}, `b"\x01"`},
		{oid, "5f0c8e2a9d3b4c1a2b3c4d5e"},
		{bson.DateTime(1000), "1970-01-01 00:00:01 +0000 UTC"},
		{time.Unix(2, 0), "1970-01-01 00:00:02 +0000 UTC"},
		{bson.D{{Key: "b", Value: 1}, {Key: "a", Value: bson.A{int32(1)}}}, `{"b": 1, "a": [1]}`},
		{bson.M{"b": 1, "a": 2}, `{"a": 2, "b": 1}`},
		{map[string]any{"k": []any{"v"}}, `{"k": ["v"]}`},
		{bson.Raw(raw), `{"z": 1, "a": ["x", {"n": None}]}`},
	}
	for _, tt := range tests {
		v, err := database.FromBSON(tt.in)
		if err != nil {
			t.Errorf("FromBSON(%#v): %v", tt.in, err)
			continue
		}
		if got := v.String(); got != tt.want {
			t.Errorf("FromBSON(%#v) = %s, want %s", tt.in, got, tt.want)
		}
	}

	dec, _ := bson.ParseDecimal128("1.5")
	rawDec, err := bson.Marshal(bson.D{{Key: "price", Value: bson.A{dec}}})
	if err != nil {
		t.Fatal(err)
	}
	refused := []struct {
		in   any
		want string
	}{
		{bson.D{{Key: "price", Value: dec}}, "price: Go value of type bson.Decimal128"},
		{bson.D{{Key: "id", Value: bson.Binary{Subtype: 4, Data: make([]byte, 16)}}}, "id: BSON binary of subtype 0x04 is not supported"},
		{bson.Raw(rawDec), "price[0]: BSON type 128-bit decimal is not supported"},
		{bson.A{bson.Regex{Pattern: "a"}}, "[0]: Go value of type bson.Regex"},
		{struct{}{}, "struct {}"},
	}
	for _, tt := range refused {
		_, err := database.FromBSON(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("FromBSON(%#v): %v, want an error containing %q", tt.in, err, tt.want)
		}
	}
}

// TestRoundTrip converts Starlark values to BSON bytes and back.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, expr := range []string{
		`{"a": None, "b": True, "c": -1, "d": 1 << 40, "e": 0.25, "f": "x", "g": b"\x00", "h": [1, [2, {"i": "j"}]]}`,
		`{"_id": ObjectId("5f0c8e2a9d3b4c1a2b3c4d5e"), "t": time.from_timestamp(1700000000, 5000000)}`,
	} {
		v := eval(t, expr)
		b, err := database.ToBSON(v)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := bson.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		back, err := database.FromBSON(bson.Raw(raw))
		if err != nil {
			t.Fatal(err)
		}
		if eq, err := starlark.Equal(v, back); err != nil || !eq {
			t.Errorf("round trip of %s gave %s", v, back)
		}
	}
}
