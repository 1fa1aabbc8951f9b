package auth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	// KeysCollection holds the key of the device cookies when
	// Options.DeviceKey is nil.
	KeysCollection = "auth_keys"
)

// Throttling defaults.
const (
	// DefaultMaxFailures is the number of failed attempts allowed per
	// username and window when [Options.MaxFailures] is 0.
	DefaultMaxFailures = 5
	// DefaultWindow is the throttling window when [Options.Window] is 0.
	DefaultWindow = 15 * time.Minute
	// DefaultMaxClientFailures is the number of failed attempts allowed
	// per client, on any accounts, and window when
	// [Options.MaxClientFailures] is 0.
	DefaultMaxClientFailures = 50
	// DefaultTemporaryLifetime is how long a temporary password (one an
	// operator set: SetTemporaryPassword, SetMustChangePassword) logs in
	// when [Options.TemporaryLifetime] is 0.
	DefaultTemporaryLifetime = 72 * time.Hour
)

// User is an account as stored. Its password hash is kept unexported, so
// that it does not travel to templates or JSON by accident; [Fingerprint]
// digests it.
type User struct {
	// ID is the account's _id: the canonical username ([Canonical]).
	ID string
	// Username is the username as typed when the account was created.
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
	// MustChangePassword is true when the password was set by an
	// operator as a temporary one (SetTemporaryPassword,
	// SetMustChangePassword): the user must choose a new one before
	// going on. SetPassword clears it.
	MustChangePassword bool

	hash  string
	epoch int64 // see Users.SetActive
}

// userDoc is the stored form of a User.
type userDoc struct {
	// ID is the canonical username, or for an account of an older
	// version not yet migrated (see Migrate) its ObjectId.
	ID                any        `bson:"_id"`
	Username          string     `bson:"username"`
	PasswordHash      string     `bson:"password_hash"`
	Email             string     `bson:"email"`
	IsActive          bool       `bson:"is_active"`
	CreatedAt         time.Time  `bson:"created_at"`
	LastLogin         *time.Time `bson:"last_login"`
	PasswordChangedAt time.Time  `bson:"password_changed_at"`
	MustChange        bool       `bson:"must_change_password,omitempty"`
	// TemporarySince is when an operator set a temporary password (it
	// expires after Options.TemporaryLifetime); nil otherwise, also when
	// MustChange comes from a login with a password the policy now
	// refuses.
	TemporarySince *time.Time `bson:"temporary_since,omitempty"`
	// SessionEpoch counts the times the account was disabled or its
	// sessions were ended (Users.EndSessions): sessions from an earlier
	// epoch end (it is part of the Fingerprint).
	SessionEpoch int64 `bson:"session_epoch,omitempty"`
}

func (d userDoc) user() User {
	u := User{
		ID:                 Canonical(d.Username),
		Username:           d.Username,
		Email:              d.Email,
		IsActive:           d.IsActive,
		CreatedAt:          d.CreatedAt,
		PasswordChangedAt:  d.PasswordChangedAt,
		MustChangePassword: d.MustChange,
		hash:               d.PasswordHash,
		epoch:              d.SessionEpoch,
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
	maxClient   int
	tempLife    time.Duration
	window      time.Duration
	nowFunc     func() time.Time
	logger      *slog.Logger

	dummyOnce sync.Once
	dummyHash string
	dummyErr  error

	devices devices
	keys    *mongo.Collection // where the keys not given are kept
	pepper  []byte            // see Options.Pepper
	cache   *userCache        // nil without Options.Versions

	slots    chan struct{} // one per bcrypt computation running
	hashWait time.Duration

	readyMu   sync.Mutex
	ready     atomic.Bool         // EnsureIndexes succeeded once
	conflicts map[string][]string // canonical name → usernames left unmigrated; set once, under readyMu, before ready
}

// NewUsers returns the account store of db configured by opts, or an
// error wrapping [ErrInvalidOptions]. It does no I/O; call
// [Users.EnsureIndexes] at startup (every other method also does it,
// once).
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
	if s.cost < LowestCost || s.cost > MaxCost {
		return nil, fmt.Errorf("%w: bcrypt cost %d is outside %d..%d", ErrInvalidOptions, opts.Cost, LowestCost, MaxCost)
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
	s.maxClient = cmp.Or(opts.MaxClientFailures, DefaultMaxClientFailures)
	if s.maxClient < 0 {
		return nil, fmt.Errorf("%w: MaxClientFailures %d is negative", ErrInvalidOptions, opts.MaxClientFailures)
	}
	s.tempLife = cmp.Or(opts.TemporaryLifetime, DefaultTemporaryLifetime)
	if s.tempLife < 0 {
		return nil, fmt.Errorf("%w: TemporaryLifetime %v is negative", ErrInvalidOptions, opts.TemporaryLifetime)
	}
	if s.window < 0 {
		return nil, fmt.Errorf("%w: Window %v is negative", ErrInvalidOptions, opts.Window)
	}
	if s.nowFunc == nil {
		s.nowFunc = time.Now
	}
	if opts.CacheSize < 0 {
		return nil, fmt.Errorf("%w: CacheSize %d is negative", ErrInvalidOptions, opts.CacheSize)
	}
	if opts.Versions != nil {
		s.cache = &userCache{
			versions: opts.Versions,
			db:       db.Name(),
			size:     cmp.Or(opts.CacheSize, DefaultCacheSize),
			entries:  map[string]cacheEntry{},
		}
	}
	if opts.MaxHashes < 0 || opts.HashWait < 0 {
		return nil, fmt.Errorf("%w: MaxHashes %d or HashWait %v is negative", ErrInvalidOptions, opts.MaxHashes, opts.HashWait)
	}
	n := opts.MaxHashes
	if n == 0 {
		n = runtime.NumCPU()
	}
	s.slots = make(chan struct{}, n)
	s.hashWait = cmp.Or(opts.HashWait, DefaultHashWait)
	switch {
	case opts.DeviceKey == nil:
		s.keys = db.Collection(KeysCollection) // EnsureIndexes reads the key
	case len(opts.DeviceKey) < MinDeviceKeySize:
		return nil, fmt.Errorf("%w: DeviceKey has %d bytes, fewer than %d", ErrInvalidOptions, len(opts.DeviceKey), MinDeviceKeySize)
	default:
		s.devices.key = slices.Clone(opts.DeviceKey)
	}
	switch {
	case opts.Pepper == nil:
		s.keys = db.Collection(KeysCollection) // EnsureIndexes reads the pepper
	case len(opts.Pepper) < MinPepperSize:
		return nil, fmt.Errorf("%w: Pepper has %d bytes, fewer than %d", ErrInvalidOptions, len(opts.Pepper), MinPepperSize)
	default:
		s.pepper = slices.Clone(opts.Pepper)
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

// EnsureIndexes prepares the database: it migrates the accounts of older
// versions to canonical _ids (see [Users.Migrate]) and creates the index
// that [Users.DeleteStaleFailures] uses. It is idempotent, safe to run
// from several processes at once, and once it has succeeded later calls
// return at once; every other method calls it first.
func (s *Users) EnsureIndexes(ctx context.Context) error {
	if s.ready.Load() {
		return nil
	}
	s.readyMu.Lock()
	defer s.readyMu.Unlock()
	if s.ready.Load() {
		return nil
	}
	if s.devices.key == nil {
		key, err := loadKey(ctx, s.keys, deviceKeyID, "device cookie key")
		if err != nil {
			return err
		}
		s.devices.key = key
	}
	if s.pepper == nil {
		key, err := loadKey(ctx, s.keys, pepperKeyID, "password pepper")
		if err != nil {
			return err
		}
		s.pepper = key
	}
	conflicts, err := s.migrate(ctx)
	if err != nil {
		return err
	}
	_, err = s.failures.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "expires_at", Value: 1}},
		Options: options.Index().SetName("expires_at"),
	})
	if err != nil {
		return fmt.Errorf("auth: creating index on %s.expires_at: %w", FailuresCollection, err)
	}
	s.conflicts = map[string][]string{}
	for _, c := range conflicts {
		s.conflicts[c.Canonical] = c.Usernames
		s.logger.Error("auth: accounts differ only in the case of their username; neither was migrated, each still logs in by its exact username only, and no account can be created under that name until one of them is deleted",
			"usernames", strings.Join(c.Usernames, ", "))
	}
	s.ready.Store(true)
	return nil
}

// conflicted reports whether canonical is the name of accounts left
// unmigrated because they differ only in case (see Migrate).
func (s *Users) conflicted(canonical string) bool {
	_, ok := s.conflicts[canonical]
	return ok
}

// Conflicts returns the accounts that differ only in the case of their
// username, as the last EnsureIndexes found them: one entry per
// canonical name, sorted. Such accounts keep working by their exact
// username until all but one are deleted.
func (s *Users) Conflicts(ctx context.Context) ([]CaseConflict, error) {
	if err := s.EnsureIndexes(ctx); err != nil {
		return nil, err
	}
	out := make([]CaseConflict, 0, len(s.conflicts))
	for c, names := range s.conflicts {
		out = append(out, CaseConflict{Canonical: c, Usernames: slices.Clone(names)})
	}
	slices.SortFunc(out, func(a, b CaseConflict) int { return strings.Compare(a.Canonical, b.Canonical) })
	return out, nil
}

// filter returns the filter that finds the account of username: its
// canonical _id, the one query the embedded engine answers from an
// index; or, for a name of accounts that differ only in case (never on a
// migrated database), the exact username.
func (s *Users) filter(username string) bson.D {
	c := Canonical(username)
	if s.conflicted(c) {
		return bson.D{{Key: "username", Value: username}}
	}
	return bson.D{{Key: "_id", Value: c}}
}

// hash returns the stored hash of password (the peppered version) at
// the configured cost. It does not apply the password policy: a login
// upgrades the hash of a password set under an older one.
func (s *Users) hash(ctx context.Context, password string) (string, error) {
	if err := s.EnsureIndexes(ctx); err != nil { // reads the pepper
		return "", err
	}
	release, err := s.HashSlot(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	h, err := bcrypt.GenerateFromPassword(s.prehash(password), s.cost)
	if err != nil {
		return "", fmt.Errorf("auth: hashing password: %w", err)
	}
	return pepperedPrefix + string(h), nil
}

// Create adds an active account. It refuses an invalid username
// ([ErrInvalidUsername]), a password that breaks the policy of
// [CheckPassword] or an e-mail address ([ErrInvalidEmail], "" means
// none), and a username already taken in any case ([ErrUserExists]: the
// account's _id is the canonical username, so of two concurrent Creates
// of "Alice" and "alice" exactly one succeeds).
func (s *Users) Create(ctx context.Context, username, password, email string) (User, error) {
	if err := CheckUsername(username); err != nil {
		return User{}, err
	}
	if err := checkEmail(email); err != nil {
		return User{}, err
	}
	if err := CheckPassword(password); err != nil {
		return User{}, err
	}
	// Spare the hash when the name is known to be taken (the insert
	// below is what decides a race).
	if _, found, err := s.find(ctx, username); err != nil {
		return User{}, err
	} else if found || s.conflicted(Canonical(username)) {
		return User{}, fmt.Errorf("%w: %q", ErrUserExists, username)
	}
	h, err := s.hash(ctx, password)
	if err != nil {
		return User{}, err
	}
	now := s.now()
	d := userDoc{
		ID:                Canonical(username),
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
	if err := s.EnsureIndexes(ctx); err != nil {
		return userDoc{}, false, err
	}
	id := Canonical(username)
	cached := s.cache != nil && !s.conflicted(id)
	var v uint64
	if cached {
		v = s.cache.version(id) // before the read: a write during it changes it
		if d, ok := s.cache.get(id, v); ok {
			return d, true, nil
		}
	}
	err = s.users.FindOne(ctx, s.filter(username)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return userDoc{}, false, nil
	}
	if err != nil {
		return userDoc{}, false, fmt.Errorf("auth: reading user: %w", err)
	}
	if cached {
		s.cache.put(id, v, d)
	}
	return d, true, nil
}

// Get returns the account of username (in any case), or an error
// wrapping [ErrNoUser].
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

// Exists reports whether username has an account, in any case.
func (s *Users) Exists(ctx context.Context, username string) (bool, error) {
	if CheckUsername(username) != nil {
		return false, nil
	}
	_, found, err := s.find(ctx, username)
	if err != nil {
		return false, fmt.Errorf("auth: looking up user %s: %w", quote(username), err)
	}
	return found, nil
}

// List returns every account, sorted by username.
func (s *Users) List(ctx context.Context) ([]User, error) {
	if err := s.EnsureIndexes(ctx); err != nil {
		return nil, err
	}
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
	if err := s.EnsureIndexes(ctx); err != nil {
		return err
	}
	defer s.forget(username)
	res, err := s.users.DeleteOne(ctx, s.filter(username))
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
	if err := s.EnsureIndexes(ctx); err != nil {
		return err
	}
	defer s.forget(username)
	res, err := s.users.UpdateOne(ctx, s.filter(username), change)
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

// EndSessions changes the [Fingerprint] of username without changing
// anything else, which ends every session logged in as that user; a
// session store that cannot delete a session (sealed cookies) uses it at
// logout.
func (s *Users) EndSessions(ctx context.Context, username string) error {
	change := bson.D{{Key: "$inc", Value: bson.D{{Key: "session_epoch", Value: int64(1)}}}}
	return s.updateDoc(ctx, username, "ending the sessions", change)
}

// SetPassword replaces the password of username, under the same rules as
// Create, and clears MustChangePassword. It changes the user's
// [Fingerprint], which ends the user's other sessions. It does not reset
// the login throttle (see [Users.ResetFailures]).
func (s *Users) SetPassword(ctx context.Context, username, password string) error {
	return s.setPassword(ctx, username, password, false)
}

// SetTemporaryPassword is SetPassword for a password an operator chose
// and told the user: the account's MustChangePassword becomes true, so
// that the user is led to choose their own at their next login.
func (s *Users) SetTemporaryPassword(ctx context.Context, username, password string) error {
	return s.setPassword(ctx, username, password, true)
}

func (s *Users) setPassword(ctx context.Context, username, password string, temporary bool) error {
	if err := CheckPassword(password); err != nil {
		return err
	}
	h, err := s.hash(ctx, password)
	if err != nil {
		return err
	}
	now := s.now()
	return s.update(ctx, username, "setting password", bson.D{
		{Key: "password_hash", Value: h},
		{Key: "password_changed_at", Value: now},
		{Key: "must_change_password", Value: temporary},
		{Key: "temporary_since", Value: temporarySince(temporary, now)},
	})
}

// SetMustChangePassword sets or clears the MustChangePassword of
// username's account (aspengo user add --temporary sets it on a new
// account). Setting it starts the temporary password's lifetime.
func (s *Users) SetMustChangePassword(ctx context.Context, username string, must bool) error {
	return s.update(ctx, username, "setting must_change_password", bson.D{
		{Key: "must_change_password", Value: must},
		{Key: "temporary_since", Value: temporarySince(must, s.now())},
	})
}

// temporarySince is the value of the field temporary_since: now for a
// temporary password, else null.
func temporarySince(temporary bool, now time.Time) any {
	if temporary {
		return now
	}
	return nil
}

// forget drops username's cached account after a write of this process.
func (s *Users) forget(username string) {
	if s.cache != nil {
		s.cache.forget(Canonical(username))
	}
}
