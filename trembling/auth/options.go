package auth

import (
	"log/slog"
	"time"
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
	// MaxClientFailures is the number of failed attempts per client (see
	// [Users.LoginFrom]) on any accounts a window allows before further
	// attempts from it are throttled, against password spraying (one
	// password tried on many accounts): 0 means DefaultMaxClientFailures
	// (50); negative is refused.
	MaxClientFailures int
	// TemporaryLifetime is how long a temporary password logs in after
	// an operator set it; after that the login fails as a wrong password
	// would, and the operator must set another: 0 means
	// DefaultTemporaryLifetime (72 hours).
	TemporaryLifetime time.Duration
	// MaxHashes bounds the bcrypt computations that run at once (each
	// takes a CPU for a noticeable time): 0 means runtime.NumCPU(). A
	// call that needs one more waits for a free slot up to HashWait,
	// then fails with a *BusyError, so that a spray of logins cannot
	// starve the rest of the process.
	MaxHashes int
	// HashWait is how long a call waits for a bcrypt slot: 0 means
	// DefaultHashWait.
	HashWait time.Duration
	// DeviceKey signs device cookies (see the package documentation):
	// at least MinDeviceKeySize secret bytes, the same in every process
	// that shares the database, best kept out of the database (a key
	// file). nil means a key kept in the database itself, in the
	// collection KeysCollection, made by the first process that needs it.
	DeviceKey []byte
	// Pepper is the secret key of the password hashes (each is a bcrypt
	// hash of an HMAC-SHA256 of the password under it): at least
	// MinPepperSize secret bytes, the same in every process that shares
	// the database, best kept out of the database (a key file), and never
	// to be lost or changed: without it no password logs in. nil means a
	// key kept in the database itself, in the collection KeysCollection,
	// made by the first process that needs it.
	Pepper []byte
	// Versions, when not nil, gives the Users a cache of accounts in the
	// process, each checked against the version of its document before
	// use, so that a change made by any process (a password change,
	// aspengo user disable or delete) is seen at the next read. Only an
	// engine that sees every write can give one: the embedded engine.
	Versions Versioner
	// CacheSize bounds the accounts cached with Versions: 0 means
	// DefaultCacheSize.
	CacheSize int
	// Now returns the current time; nil means time.Now. For tests.
	Now func() time.Time
	// Logger receives what Authenticate cannot return without telling
	// its failures apart (a malformed stored hash) or need not (a failed
	// cleanup after a login); nil means slog.Default().
	Logger *slog.Logger
}
