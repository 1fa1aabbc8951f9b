package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/crypto/bcrypt"
)

// Collection names.
const (
	// UsersCollection holds the accounts.
	UsersCollection = "users"
	// FailuresCollection holds the login attempt counters.
	FailuresCollection = "login_failures"
)

// Throttling defaults.
const (
	// DefaultMaxFailures is the number of failed attempts allowed per
	// username and window when [Options.MaxFailures] is 0.
	DefaultMaxFailures = 5
	// DefaultWindow is the throttling window when [Options.Window] is 0.
	DefaultWindow = 15 * time.Minute
)

// Options configure a [Users]. The zero value gives the defaults.
type Options struct {
	// Cost is the bcrypt cost of new hashes: 0 means DefaultCost (12);
	// NewUsers refuses a cost below MinCost (10) or above MaxCost.
	Cost int
	// MaxFailures is the number of attempts per username a window allows
	// before further attempts are throttled: 0 means DefaultMaxFailures
	// (5); negative is refused.
	MaxFailures int
	// Window is the throttling window: 0 means DefaultWindow (15
	// minutes); negative is refused.
	Window time.Duration
	// Now returns the current time; nil means time.Now. For tests.
	Now func() time.Time
	// Logger receives what Authenticate cannot return without telling
	// its failures apart (a malformed stored hash) or need not (a failed
	// cleanup after a login); nil means slog.Default().
	Logger *slog.Logger
}

// User is an account as stored. Its password hash is kept unexported, so
// that it does not travel to templates or JSON by accident; [Fingerprint]
// digests it.
type User struct {
	ID       bson.ObjectID
	Username string
	Email    string
	IsActive bool
	// CreatedAt is when the account was created.
	CreatedAt time.Time
	// LastLogin is the time of the last successful Authenticate; zero
	// before the first.
	LastLogin time.Time
	// PasswordChangedAt is when the password was last set (by Create or
	// SetPassword; a cost upgrade does not count).
	PasswordChangedAt time.Time

	hash  string
	epoch int64 // see Users.SetActive
}

// userDoc is the stored form of a User.
type userDoc struct {
	ID                bson.ObjectID `bson:"_id"`
	Username          string        `bson:"username"`
	PasswordHash      string        `bson:"password_hash"`
	Email             string        `bson:"email"`
	IsActive          bool          `bson:"is_active"`
	CreatedAt         time.Time     `bson:"created_at"`
	LastLogin         *time.Time    `bson:"last_login"`
	PasswordChangedAt time.Time     `bson:"password_changed_at"`
	// SessionEpoch counts the times the account was disabled: sessions
	// from an earlier epoch end (it is part of the Fingerprint).
	SessionEpoch int64 `bson:"session_epoch,omitempty"`
}

func (d userDoc) user() User {
	u := User{
		ID:                d.ID,
		Username:          d.Username,
		Email:             d.Email,
		IsActive:          d.IsActive,
		CreatedAt:         d.CreatedAt,
		PasswordChangedAt: d.PasswordChangedAt,
		hash:              d.PasswordHash,
		epoch:             d.SessionEpoch,
	}
	if d.LastLogin != nil {
		u.LastLogin = *d.LastLogin
	}
	return u
}

// Users is the account store of one database. It is safe for concurrent
// use; several Users, in one process or many, may share a database.
type Users struct {
	users    *mongo.Collection
	failures *mongo.Collection

	cost        int
	maxFailures int
	window      time.Duration
	nowFunc     func() time.Time
	logger      *slog.Logger

	dummyOnce sync.Once
	dummyHash []byte
	dummyErr  error

	indexMu sync.Mutex
	indexed bool // EnsureIndexes succeeded once
}

// NewUsers returns the account store of db configured by opts, or an
// error wrapping [ErrInvalidOptions]. It does no I/O; call
// [Users.EnsureIndexes] at startup (Create also does it, once).
func NewUsers(db *mongo.Database, opts Options) (*Users, error) {
	s := &Users{
		users:       db.Collection(UsersCollection),
		failures:    db.Collection(FailuresCollection),
		cost:        opts.Cost,
		maxFailures: opts.MaxFailures,
		window:      opts.Window,
		nowFunc:     opts.Now,
		logger:      opts.Logger,
	}
	if s.cost == 0 {
		s.cost = DefaultCost
	}
	if s.cost < MinCost || s.cost > MaxCost {
		return nil, fmt.Errorf("%w: bcrypt cost %d is outside %d..%d", ErrInvalidOptions, opts.Cost, MinCost, MaxCost)
	}
	if s.maxFailures == 0 {
		s.maxFailures = DefaultMaxFailures
	}
	if s.maxFailures < 0 {
		return nil, fmt.Errorf("%w: MaxFailures %d is negative", ErrInvalidOptions, opts.MaxFailures)
	}
	if s.window == 0 {
		s.window = DefaultWindow
	}
	if s.window < 0 {
		return nil, fmt.Errorf("%w: Window %v is negative", ErrInvalidOptions, opts.Window)
	}
	if s.nowFunc == nil {
		s.nowFunc = time.Now
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	return s, nil
}

// now is the current time as the database keeps it: UTC, milliseconds.
func (s *Users) now() time.Time {
	return s.nowFunc().UTC().Truncate(time.Millisecond)
}

// EnsureIndexes creates the unique index on users.username and an index
// on login_failures.window_start (for DeleteStaleFailures). It is
// idempotent, and once it has succeeded later calls return at once (Create
// calls it, so that the unique index exists before the first account). It
// fails when the users collection already holds two accounts with one
// username.
func (s *Users) EnsureIndexes(ctx context.Context) error {
	s.indexMu.Lock()
	done := s.indexed
	s.indexMu.Unlock()
	if done {
		return nil
	}
	_, err := s.users.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "username", Value: 1}},
		Options: options.Index().SetName("username_unique").SetUnique(true),
	})
	if err != nil {
		return fmt.Errorf("auth: creating unique index on %s.username: %w", UsersCollection, err)
	}
	_, err = s.failures.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "window_start", Value: 1}},
		Options: options.Index().SetName("window_start"),
	})
	if err != nil {
		return fmt.Errorf("auth: creating index on %s.window_start: %w", FailuresCollection, err)
	}
	s.indexMu.Lock()
	s.indexed = true
	s.indexMu.Unlock()
	return nil
}

// hash returns the bcrypt hash of password at the configured cost.
func (s *Users) hash(password string) (string, error) {
	if err := CheckPassword(password); err != nil {
		return "", err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return "", fmt.Errorf("auth: hashing password: %w", err)
	}
	return string(h), nil
}

// Create adds an active account. It refuses an invalid username
// ([ErrInvalidUsername]), password ([ErrPasswordEmpty],
// [ErrPasswordTooLong]) or e-mail address ([ErrInvalidEmail], "" means
// none), and a username already taken ([ErrUserExists]; of two
// concurrent Creates of one username exactly one succeeds).
func (s *Users) Create(ctx context.Context, username, password, email string) (User, error) {
	if err := CheckUsername(username); err != nil {
		return User{}, err
	}
	if err := checkEmail(email); err != nil {
		return User{}, err
	}
	h, err := s.hash(password)
	if err != nil {
		return User{}, err
	}
	if err := s.EnsureIndexes(ctx); err != nil {
		return User{}, err
	}
	now := s.now()
	d := userDoc{
		ID:                bson.NewObjectID(),
		Username:          username,
		PasswordHash:      h,
		Email:             email,
		IsActive:          true,
		CreatedAt:         now,
		PasswordChangedAt: now,
	}
	if _, err := s.users.InsertOne(ctx, d); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return User{}, fmt.Errorf("%w: %q", ErrUserExists, username)
		}
		return User{}, fmt.Errorf("auth: creating user %q: %w", username, err)
	}
	return d.user(), nil
}

// find returns the stored document of username; found is false when
// there is none.
func (s *Users) find(ctx context.Context, username string) (d userDoc, found bool, err error) {
	err = s.users.FindOne(ctx, bson.D{{Key: "username", Value: username}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return userDoc{}, false, nil
	}
	if err != nil {
		return userDoc{}, false, fmt.Errorf("auth: reading user: %w", err)
	}
	return d, true, nil
}

// Get returns the account of username, or an error wrapping [ErrNoUser].
func (s *Users) Get(ctx context.Context, username string) (User, error) {
	d, found, err := s.find(ctx, username)
	if err != nil {
		return User{}, fmt.Errorf("%w (%q)", err, username)
	}
	if !found {
		return User{}, fmt.Errorf("%w: %s", ErrNoUser, quote(username))
	}
	return d.user(), nil
}

// Exists reports whether username has an account.
func (s *Users) Exists(ctx context.Context, username string) (bool, error) {
	n, err := s.users.CountDocuments(ctx, bson.D{{Key: "username", Value: username}}, options.Count().SetLimit(1))
	if err != nil {
		return false, fmt.Errorf("auth: looking up user %s: %w", quote(username), err)
	}
	return n > 0, nil
}

// List returns every account, sorted by username.
func (s *Users) List(ctx context.Context) ([]User, error) {
	cur, err := s.users.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "username", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("auth: listing users: %w", err)
	}
	var docs []userDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("auth: listing users: %w", err)
	}
	users := make([]User, len(docs))
	for i, d := range docs {
		users[i] = d.user()
	}
	return users, nil
}

// Delete removes the account of username, or returns an error wrapping
// [ErrNoUser]. Its login attempt counter is left to expire.
func (s *Users) Delete(ctx context.Context, username string) error {
	res, err := s.users.DeleteOne(ctx, bson.D{{Key: "username", Value: username}})
	if err != nil {
		return fmt.Errorf("auth: deleting user %s: %w", quote(username), err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("%w: %s", ErrNoUser, quote(username))
	}
	return nil
}

// update applies set to the account of username.
func (s *Users) update(ctx context.Context, username, what string, set bson.D) error {
	return s.updateDoc(ctx, username, what, bson.D{{Key: "$set", Value: set}})
}

// updateDoc applies the update document change to username's record.
func (s *Users) updateDoc(ctx context.Context, username, what string, change bson.D) error {
	res, err := s.users.UpdateOne(ctx, bson.D{{Key: "username", Value: username}}, change)
	if err != nil {
		return fmt.Errorf("auth: %s of user %s: %w", what, quote(username), err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("%w: %s", ErrNoUser, quote(username))
	}
	return nil
}

// SetActive enables or disables the account of username. A disabled
// account cannot log in (Authenticate answers [ErrInvalidCredentials]).
func (s *Users) SetActive(ctx context.Context, username string, active bool) error {
	change := bson.D{{Key: "$set", Value: bson.D{{Key: "is_active", Value: active}}}}
	if !active {
		// Disabling changes the Fingerprint, so a session that sleeps
		// through the disabled time does not come back when the account
		// is enabled again.
		change = append(change, bson.E{Key: "$inc", Value: bson.D{{Key: "session_epoch", Value: int64(1)}}})
	}
	return s.updateDoc(ctx, username, "setting is_active", change)
}

// SetPassword replaces the password of username, under the same rules as
// Create. It changes the user's [Fingerprint], which ends the user's
// other sessions. It does not reset the login throttle (see
// [Users.ResetFailures]).
func (s *Users) SetPassword(ctx context.Context, username, password string) error {
	h, err := s.hash(password)
	if err != nil {
		return err
	}
	return s.update(ctx, username, "setting password", bson.D{
		{Key: "password_hash", Value: h},
		{Key: "password_changed_at", Value: s.now()},
	})
}

// dummy returns a bcrypt hash at the configured cost of a random
// password, made on first use, to compare unknown usernames against.
func (s *Users) dummy() ([]byte, error) {
	s.dummyOnce.Do(func() {
		s.dummyHash, s.dummyErr = bcrypt.GenerateFromPassword([]byte(rand.Text()), s.cost)
	})
	return s.dummyHash, s.dummyErr
}

// Authenticate checks username and password and returns the account.
//
// The error is [ErrInvalidCredentials] itself for an unknown username, a
// wrong password (an empty or over-long one included) and an inactive
// account, after the same work in each case (except that a username no
// account can have, per [CheckUsername], skips the database lookup: the
// rules are public, so that says nothing); an error matching
// [ErrThrottled] when the username has too many recent attempts (see the
// package documentation); and anything else only for database failures.
// On success it records last_login, upgrades a hash of a lower cost than
// configured, and resets the username's attempt counter.
func (s *Users) Authenticate(ctx context.Context, username, password string) (User, error) {
	if err := s.countAttempt(ctx, username); err != nil {
		return User{}, err
	}
	var d userDoc
	found := false
	if CheckUsername(username) == nil { // no account has an invalid name
		var err error
		if d, found, err = s.find(ctx, username); err != nil {
			return User{}, err
		}
	}
	hash := []byte(d.PasswordHash)
	if !found {
		var err error
		if hash, err = s.dummy(); err != nil {
			return User{}, fmt.Errorf("auth: making the dummy hash: %w", err)
		}
	}
	// Compare even when the answer is already known to be no, so that
	// every failure costs one comparison. bcrypt would compare only the
	// first 72 bytes of a longer password: such a password is wrong.
	err := bcrypt.CompareHashAndPassword(hash, []byte(password))
	if err != nil && !errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) && found {
		s.logger.Warn("auth: stored password hash is unusable", "user", d.Username, "err", err)
	}
	if found {
		// A hash of a lower cost than configured (made before the cost
		// was raised, not yet upgraded) compares much faster than the
		// dummy an unknown username gets: pay the configured cost as
		// well, so that the difference shrinks from a factor of 2^k to
		// at most 1 + 2^-k.
		if c, cerr := bcrypt.Cost(hash); cerr == nil && c < s.cost {
			if dh, derr := s.dummy(); derr == nil {
				bcrypt.CompareHashAndPassword(dh, []byte(password))
			}
		}
	}
	if err != nil || !found || !d.IsActive || CheckPassword(password) != nil {
		return User{}, ErrInvalidCredentials
	}
	u, err := s.loginSucceeded(ctx, d, password)
	if err != nil {
		return User{}, err
	}
	if err := s.ResetFailures(ctx, username); err != nil {
		s.logger.Warn("auth: login succeeded but its attempt counter was not reset", "user", username, "err", err)
	}
	return u, nil
}

// loginSucceeded records the login of d, whose hash password matched,
// and upgrades that hash if its cost is low. The update applies only if
// the account is still active with that hash, so the returned User's
// hash (and Fingerprint) is the stored one: when two logins upgrade at
// once, the second re-reads the first's hash instead of overwriting it;
// when the password changed meanwhile, the new one is checked.
func (s *Users) loginSucceeded(ctx context.Context, d userDoc, password string) (User, error) {
	for try := 0; ; try++ {
		now := s.now()
		set := bson.D{{Key: "last_login", Value: now}}
		newHash := d.PasswordHash
		if cost, err := bcrypt.Cost([]byte(d.PasswordHash)); err == nil && cost < s.cost {
			if h, err := s.hash(password); err != nil {
				s.logger.Warn("auth: upgrading password hash", "user", d.Username, "err", err)
			} else {
				newHash = h
				set = append(set, bson.E{Key: "password_hash", Value: h})
			}
		}
		res, err := s.users.UpdateOne(ctx, bson.D{
			{Key: "_id", Value: d.ID},
			{Key: "password_hash", Value: d.PasswordHash},
			{Key: "is_active", Value: true},
		}, bson.D{{Key: "$set", Value: set}})
		if err != nil {
			return User{}, fmt.Errorf("auth: recording login of %s: %w", quote(d.Username), err)
		}
		if res.MatchedCount > 0 {
			d.PasswordHash = newHash
			d.LastLogin = &now
			return d.user(), nil
		}
		if try > 0 {
			return User{}, ErrInvalidCredentials // changed twice during one login: give up
		}
		// The account changed since it was read.
		cur, found, err := s.find(ctx, d.Username)
		if err != nil {
			return User{}, err
		}
		if !found || cur.ID != d.ID || !cur.IsActive {
			return User{}, ErrInvalidCredentials
		}
		if cur.PasswordHash != d.PasswordHash &&
			bcrypt.CompareHashAndPassword([]byte(cur.PasswordHash), []byte(password)) != nil {
			return User{}, ErrInvalidCredentials
		}
		d = cur
	}
}
