package auth

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// CaseConflict is a set of accounts, made by an older version that
// compared usernames exactly, whose usernames differ only in case: they
// would be one account now, so none of them is migrated or merged.
type CaseConflict struct {
	// Canonical is the name they share once case-folded.
	Canonical string
	// Usernames are the accounts' usernames as stored, sorted.
	Usernames []string
}

// legacyIDField keeps, in a migrated account, the _id it had before, so
// that a migration interrupted or run by two processes at once is
// recognised as the same one.
const legacyIDField = "legacy_id"

// Migrate gives every account of an older version (an ObjectId or any
// other _id than its canonical username) its canonical _id, keeping
// every field, and returns the accounts it left alone because their
// usernames differ only in case. EnsureIndexes runs it, once per Users.
//
// Each account is copied under its new _id (an insert, atomic on every
// engine) and then its old document is deleted, so that an interrupted
// migration loses nothing and two processes migrating at once agree: the
// copy remembers the old _id, and whoever finds the copy made only
// deletes the old document. Migrate reads the whole collection, once; it
// is for startup, not for a request.
func (s *Users) Migrate(ctx context.Context) ([]CaseConflict, error) {
	return s.migrate(ctx)
}

func (s *Users) migrate(ctx context.Context) ([]CaseConflict, error) {
	cur, err := s.users.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{
		{Key: "_id", Value: 1}, {Key: "username", Value: 1}, {Key: legacyIDField, Value: 1},
	}))
	if err != nil {
		return nil, fmt.Errorf("auth: migrating users: %w", err)
	}
	var docs []struct {
		ID       bson.RawValue `bson:"_id"`
		Username string        `bson:"username"`
		LegacyID bson.RawValue `bson:"legacy_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("auth: migrating users: %w", err)
	}
	type legacy struct {
		id       bson.RawValue
		username string
	}
	current := map[string]bson.RawValue{} // canonical _id → its legacy_id (zero if none)
	old := map[string][]legacy{}          // canonical name → accounts still to migrate
	for _, d := range docs {
		if CheckUsername(d.Username) != nil {
			s.logger.Warn("auth: an account has an invalid username and cannot log in", "username", d.Username)
			continue
		}
		c := Canonical(d.Username)
		if id, ok := d.ID.StringValueOK(); ok && id == c {
			current[c] = d.LegacyID
			continue
		}
		old[c] = append(old[c], legacy{d.ID, d.Username})
	}
	if len(old) == 0 {
		return nil, nil
	}
	if err := s.dropUsernameIndex(ctx); err != nil {
		return nil, err
	}
	var conflicts []CaseConflict
	for _, c := range slices.Sorted(maps.Keys(old)) {
		group := old[c]
		var names []string
		for _, l := range group {
			names = append(names, l.username)
		}
		if done, ok := current[c]; ok && (len(group) > 1 || !sameValue(done, group[0].id)) {
			var u struct {
				Username string `bson:"username"`
			}
			if err := s.users.FindOne(ctx, bson.D{{Key: "_id", Value: c}}).Decode(&u); err == nil {
				names = append(names, u.Username)
			}
		}
		if len(names) > 1 {
			slices.Sort(names)
			conflicts = append(conflicts, CaseConflict{Canonical: c, Usernames: names})
			continue
		}
		if err := s.migrateOne(ctx, group[0].id, c); err != nil {
			var ce *caseConflictError
			if errors.As(err, &ce) {
				conflicts = append(conflicts, CaseConflict{Canonical: c, Usernames: []string{ce.other, group[0].username}})
				continue
			}
			return nil, err
		}
	}
	return conflicts, nil
}

// caseConflictError is migrateOne's answer when another account holds
// the canonical _id already.
type caseConflictError struct{ other string }

func (e *caseConflictError) Error() string { return "auth: " + e.other + " holds the canonical _id" }

// migrateOne copies the account of _id id to _id canonical and deletes
// the old document.
func (s *Users) migrateOne(ctx context.Context, id bson.RawValue, canonical string) error {
	var doc bson.D
	err := s.users.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil // another process migrated it meanwhile
	}
	if err != nil {
		return fmt.Errorf("auth: migrating user %s: %w", canonical, err)
	}
	copied := bson.D{{Key: "_id", Value: canonical}}
	for _, e := range doc {
		if e.Key != "_id" && e.Key != legacyIDField {
			copied = append(copied, e)
		}
	}
	copied = append(copied, bson.E{Key: legacyIDField, Value: id})
	if _, err := s.users.InsertOne(ctx, copied); err != nil {
		if !mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("auth: migrating user %s: %w", canonical, err)
		}
		var other struct {
			Username string        `bson:"username"`
			LegacyID bson.RawValue `bson:"legacy_id"`
		}
		if err := s.users.FindOne(ctx, bson.D{{Key: "_id", Value: canonical}}).Decode(&other); err != nil {
			return fmt.Errorf("auth: migrating user %s: %w", canonical, err)
		}
		if !sameValue(other.LegacyID, id) {
			return &caseConflictError{other: other.Username}
		}
		// Another process copied it first: only the deletion is left.
	}
	if _, err := s.users.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return fmt.Errorf("auth: migrating user %s: deleting the old document: %w", canonical, err)
	}
	s.logger.Info("auth: account migrated to its canonical _id", "user", canonical)
	return nil
}

// dropUsernameIndex drops the unique index on username that older
// versions made: the canonical _id makes it redundant, and it would
// refuse the copy that a migration makes before deleting the original.
func (s *Users) dropUsernameIndex(ctx context.Context) error {
	specs, err := s.users.Indexes().ListSpecifications(ctx)
	if err != nil {
		return fmt.Errorf("auth: listing the indexes of %s: %w", UsersCollection, err)
	}
	for _, spec := range specs {
		var keys bson.D
		if err := bson.Unmarshal(spec.KeysDocument, &keys); err != nil || len(keys) != 1 || keys[0].Key != "username" {
			continue
		}
		err := s.users.Indexes().DropOne(ctx, spec.Name)
		var ce mongo.CommandError
		if err != nil && !(errors.As(err, &ce) && (ce.Code == 27 || strings.Contains(ce.Message, "not found"))) {
			return fmt.Errorf("auth: dropping index %s of %s: %w", spec.Name, UsersCollection, err)
		}
	}
	return nil
}

// sameValue reports whether two BSON values are equal (a zero RawValue
// equals nothing).
func sameValue(a, b bson.RawValue) bool {
	return a.Type != 0 && a.Type == b.Type && string(a.Value) == string(b.Value)
}
