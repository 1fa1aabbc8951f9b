package embedded

import (
	"bytes"
	"encoding/binary"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// opMsgBytes builds an OP_MSG with the given flags and sections (each a
// kind byte followed by its payload).
func opMsgBytes(t testing.TB, flags uint32, sections ...[]byte) []byte {
	t.Helper()
	var body []byte
	body = binary.LittleEndian.AppendUint32(body, flags)
	for _, s := range sections {
		body = append(body, s...)
	}
	if flags&flagChecksum != 0 {
		body = append(body, 0, 0, 0, 0)
	}
	var h []byte
	h = binary.LittleEndian.AppendUint32(h, uint32(headerLen+len(body)))
	h = binary.LittleEndian.AppendUint32(h, 7) // requestID
	h = binary.LittleEndian.AppendUint32(h, 0) // responseTo
	h = binary.LittleEndian.AppendUint32(h, opMsg)
	return append(h, body...)
}

func kind0(t testing.TB, doc bson.D) []byte {
	t.Helper()
	b, err := bson.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte{0}, b...)
}

func kind1(t testing.TB, id string, docs ...bson.D) []byte {
	t.Helper()
	payload := append([]byte(id), 0)
	for _, d := range docs {
		b, err := bson.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		payload = append(payload, b...)
	}
	s := binary.LittleEndian.AppendUint32(nil, uint32(4+len(payload)))
	return append(append([]byte{1}, s...), payload...)
}

func TestSerialized(t *testing.T) {
	update := bson.D{{Key: "update", Value: "c"}, {Key: "$db", Value: "app"}}
	find := bson.D{{Key: "find", Value: "c"}, {Key: "$db", Value: "app"}}
	seq := kind1(t, "updates", bson.D{{Key: "q", Value: bson.D{}}})
	tests := []struct {
		name string
		msg  []byte
		want bool
	}{
		{"update", opMsgBytes(t, 0, kind0(t, update)), true},
		{"find", opMsgBytes(t, 0, kind0(t, find)), false},
		{"findAndModify", opMsgBytes(t, 0, kind0(t, bson.D{{Key: "findAndModify", Value: "c"}})), true},
		{"delete", opMsgBytes(t, 0, kind0(t, bson.D{{Key: "delete", Value: "c"}})), true},
		{"insert", opMsgBytes(t, 0, kind0(t, bson.D{{Key: "insert", Value: "c"}})), false},
		{"document sequence first", opMsgBytes(t, 0, seq, kind0(t, update)), true},
		{"document sequence after", opMsgBytes(t, 0, kind0(t, find), seq), false},
		{"checksum", opMsgBytes(t, flagChecksum, kind0(t, update)), true},
		{"no body: unreadable, so serialized", opMsgBytes(t, 0, seq), true},
		{"truncated section", opMsgBytes(t, 0, []byte{0, 200, 0, 0, 0, 1}), true},
		{"OP_QUERY", func() []byte {
			m := opMsgBytes(t, 0, kind0(t, update))
			binary.LittleEndian.PutUint32(m[12:], 2004)
			return m
		}(), false},
		{"OP_COMPRESSED", func() []byte {
			m := opMsgBytes(t, 0, kind0(t, find))
			binary.LittleEndian.PutUint32(m[12:], opCompressed)
			return m
		}(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := serialized(tt.msg); got != tt.want {
				t.Errorf("serialized = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReadMessage(t *testing.T) {
	msg := opMsgBytes(t, flagMoreToCome, kind0(t, bson.D{{Key: "ping", Value: 1}}))
	r := bytes.NewReader(append(append([]byte{}, msg...), msg...))
	var buf []byte
	for range 2 {
		var err error
		if buf, err = readMessage(r, buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, msg) {
			t.Fatalf("read %x, want %x", buf, msg)
		}
		if msgFlags(buf)&flagMoreToCome == 0 {
			t.Error("moreToCome flag not seen")
		}
	}
	for _, n := range []uint32{0, 15, maxMessageLen + 1, 1 << 31} {
		bad := binary.LittleEndian.AppendUint32(nil, n)
		if _, err := readMessage(bytes.NewReader(append(bad, make([]byte, 32)...)), nil); err == nil {
			t.Errorf("length %d accepted", n)
		}
	}
}

// FuzzSerialized feeds arbitrary messages, as a hostile local client could,
// to the proxy's parser: it must not panic.
func FuzzSerialized(f *testing.F) {
	f.Add(opMsgBytes(f, 0, kind0(f, bson.D{{Key: "update", Value: "c"}})))
	f.Add(opMsgBytes(f, flagChecksum, kind1(f, "documents", bson.D{{Key: "a", Value: 1}}), kind0(f, bson.D{{Key: "insert", Value: "c"}})))
	f.Fuzz(func(t *testing.T, m []byte) {
		if len(m) < headerLen {
			return // readMessage never returns these
		}
		serialized(m)
		msgFlags(m)
	})
}
