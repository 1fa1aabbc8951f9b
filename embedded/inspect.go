package embedded

import (
	"bytes"
	"encoding/binary"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// action is what the proxy does around one client message.
type action struct {
	// serialize: hold writeMu across the round trip.
	serialize bool
	// ddl: the command may drop or rename collections; hold the indexer's
	// lock across the round trip and forget what it knew of forget (every
	// database when forgetAll).
	ddl       bool
	forget    []string
	forgetAll bool
	// ensure: the command may create collection coll of db; after a
	// successful reply, index it (for findAndModify, only when it
	// upserted).
	ensure       bool
	upsertedOnly bool
	db, coll     string
	// bump: the version counters to move on before the command is
	// forwarded and again after its reply.
	bump []target
}

// unknownAction is the action for a message the proxy cannot read: it may
// be any command, so it is treated as any write.
var unknownAction = action{
	serialize: true,
	ddl:       true,
	forgetAll: true,
	bump:      []target{{scope: scopeAll}},
}

// opMsg is the readable part of an OP_MSG: its body (the kind 0 section)
// and its document sequences (kind 1), by identifier.
type opMsgParts struct {
	body bson.Raw
	seqs map[string][]byte // identifier -> concatenated documents
}

// parseOpMsg splits an OP_MSG into its sections.
func parseOpMsg(m []byte) (opMsgParts, bool) {
	var p opMsgParts
	if len(m) < headerLen+4 || binary.LittleEndian.Uint32(m[12:16]) != opMsg {
		return p, false
	}
	flags := binary.LittleEndian.Uint32(m[16:20])
	end := len(m)
	if flags&flagChecksum != 0 {
		end -= 4
	}
	s := m[headerLen+4 : max(end, headerLen+4)]
	for len(s) > 0 {
		kind := s[0]
		s = s[1:]
		if len(s) < 4 {
			return p, false
		}
		size := int(int32(binary.LittleEndian.Uint32(s)))
		if size < 5 || size > len(s) {
			return p, false
		}
		switch kind {
		case 0:
			if p.body != nil {
				return p, false
			}
			p.body = bson.Raw(s[:size])
		case 1:
			i := bytes.IndexByte(s[4:size], 0)
			if i < 0 {
				return p, false
			}
			if p.seqs == nil {
				p.seqs = make(map[string][]byte)
			}
			p.seqs[string(s[4:4+i])] = s[4+i+1 : size]
		default:
			return p, false
		}
		s = s[size:]
	}
	if p.body == nil || len(p.body) < 6 || p.body[4] == 0 || p.body[len(p.body)-1] != 0 {
		return p, false // no body, or an empty one: no command name
	}
	return p, true
}

// name is the command name: the first key of the body.
func (p opMsgParts) name() string {
	if e, err := p.body.IndexErr(0); err == nil {
		if k, err := e.KeyErr(); err == nil {
			return k
		}
	}
	return ""
}

// firstString is the value of the body's first element when it is a
// string (the collection of most commands).
func (p opMsgParts) firstString() (string, bool) {
	e, err := p.body.IndexErr(0)
	if err != nil {
		return "", false
	}
	v, err := e.ValueErr()
	if err != nil {
		return "", false
	}
	return v.StringValueOK()
}

// str is the string value of key in the body.
func (p opMsgParts) str(key string) (string, bool) {
	v, err := p.body.LookupErr(key)
	if err != nil {
		return "", false
	}
	return v.StringValueOK()
}

// docs returns the documents of the argument key: the array in the body
// or the document sequence with that identifier.
func (p opMsgParts) docs(key string) ([]bson.Raw, bool) {
	if v, err := p.body.LookupErr(key); err == nil {
		arr, ok := v.ArrayOK()
		if !ok {
			return nil, false
		}
		vals, err := arr.Values()
		if err != nil {
			return nil, false
		}
		out := make([]bson.Raw, 0, len(vals))
		for _, v := range vals {
			d, ok := v.DocumentOK()
			if !ok {
				return nil, false
			}
			out = append(out, d)
		}
		return out, true
	}
	seq, ok := p.seqs[key]
	if !ok {
		return nil, false
	}
	var out []bson.Raw
	for len(seq) > 0 {
		if len(seq) < 5 {
			return nil, false
		}
		n := int(int32(binary.LittleEndian.Uint32(seq)))
		if n < 5 || n > len(seq) {
			return nil, false
		}
		out = append(out, bson.Raw(seq[:n]))
		seq = seq[n:]
	}
	return out, true
}

// idOnly returns id when the filter q is exactly {_id: <string>}.
func idOnly(q bson.Raw) (string, bool) {
	e, err := q.IndexErr(0)
	if err != nil {
		return "", false
	}
	if _, err := q.IndexErr(1); err == nil {
		return "", false // more than one key
	}
	if k, err := e.KeyErr(); err != nil || k != "_id" {
		return "", false
	}
	v, err := e.ValueErr()
	if err != nil {
		return "", false
	}
	return v.StringValueOK()
}

// serializedCommands are the commands that FerretDB v1 runs as
// read-modify-write without a transaction: it reads the matching
// documents, applies the change in Go and writes them back. The proxy lets
// one of them run at a time, so that single-document updates are atomic
// as they are on MongoDB (concurrent $inc are not lost, a filtered update
// is a real compare-and-set, a delete and an update do not interleave).
var serializedCommands = map[string]bool{
	"update":        true,
	"delete":        true,
	"findAndModify": true,
	"findandmodify": true,
}

// creatingCommands may create the collection they name.
var creatingCommands = map[string]bool{
	"create":        true,
	"createIndexes": true,
	"insert":        true,
	"update":        true,
	"findAndModify": true,
	"findandmodify": true,
}

// serialized reports whether m must run under writeMu: an OP_MSG whose
// command is in serializedCommands, or a message the proxy cannot read
// (compressed), to be safe.
func serialized(m []byte) bool { return inspect(m).serialize }

// inspect decides what the proxy does around the client message m.
func inspect(m []byte) action {
	switch binary.LittleEndian.Uint32(m[12:16]) {
	case opMsg:
	case opCompressed:
		return unknownAction
	default:
		// OP_QUERY: FerretDB answers only the handshake commands.
		return action{}
	}
	p, ok := parseOpMsg(m)
	if !ok {
		return unknownAction
	}
	name := p.name()
	db, _ := p.str("$db")
	coll, collOK := p.firstString()
	a := action{serialize: serializedCommands[name], db: db, coll: coll}
	a.ensure = creatingCommands[name] && collOK && db != ""

	collTarget := func() target { return target{scope: scopeColl, db: db, coll: coll} }
	switch name {
	case "update":
		updates, ok := p.docs("updates")
		if !ok || !collOK {
			a.bump = unknownAction.bump
			break
		}
		for _, u := range updates {
			q, qOK := u.Lookup("q").DocumentOK()
			id, idOK := idOnly(q)
			multi, err := u.LookupErr("multi")
			single := err != nil || (multi.Type == bson.TypeBoolean && !multi.Boolean())
			if qOK && idOK && single {
				a.bump = append(a.bump, target{scope: scopeDoc, db: db, coll: coll, id: id})
			} else {
				a.bump = append(a.bump, collTarget())
			}
		}
	case "delete":
		deletes, ok := p.docs("deletes")
		if !ok || !collOK {
			a.bump = unknownAction.bump
			break
		}
		for _, d := range deletes {
			q, qOK := d.Lookup("q").DocumentOK()
			if id, idOK := idOnly(q); qOK && idOK {
				a.bump = append(a.bump, target{scope: scopeDoc, db: db, coll: coll, id: id})
			} else {
				a.bump = append(a.bump, collTarget())
			}
		}
	case "findAndModify", "findandmodify":
		if !collOK {
			a.bump = unknownAction.bump
			break
		}
		a.upsertedOnly = true
		q, qOK := p.body.Lookup("query").DocumentOK()
		if id, idOK := idOnly(q); qOK && idOK {
			a.bump = []target{{scope: scopeDoc, db: db, coll: coll, id: id}}
		} else {
			a.bump = []target{collTarget()}
		}
	case "drop":
		a.ddl, a.forget = true, []string{db}
		if collOK {
			a.bump = []target{collTarget()}
		} else {
			a.bump = []target{{scope: scopeDB, db: db}}
		}
	case "dropDatabase":
		a.ddl, a.forget = true, []string{db}
		a.bump = []target{{scope: scopeDB, db: db}}
	case "renameCollection":
		a.ddl = true
		from, _ := p.firstString()
		to, _ := p.str("to")
		for _, ns := range []string{from, to} {
			d, c, ok := strings.Cut(ns, ".")
			if !ok {
				a.forgetAll, a.bump = true, unknownAction.bump
				break
			}
			a.forget = append(a.forget, d)
			a.bump = append(a.bump, target{scope: scopeColl, db: d, coll: c})
		}
	}
	return a
}

// replyOK reports whether the reply m is an OP_MSG whose body has ok: 1,
// and, with upsertedOnly, a lastErrorObject.upserted (findAndModify's
// sign that it inserted).
func replyOK(m []byte, upsertedOnly bool) bool {
	p, ok := parseOpMsg(m)
	if !ok {
		return false
	}
	v, err := p.body.LookupErr("ok")
	if err != nil {
		return false
	}
	if f, ok := v.AsFloat64OK(); !ok || f != 1 {
		return false
	}
	if upsertedOnly {
		_, err := p.body.LookupErr("lastErrorObject", "upserted")
		return err == nil
	}
	return true
}
