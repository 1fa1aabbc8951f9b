package auth_test

import (
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/aspengo/aspengo/embedded/enginetest"
	"github.com/aspengo/aspengo/trembling/auth"
)

// attempt is one Authenticate call and the error class it should give.
type attempt struct {
	username, password string
	want               error // nil, ErrInvalidCredentials or ErrThrottled
}

func runAttempts(t *testing.T, u *auth.Users, steps []attempt) {
	t.Helper()
	for i, a := range steps {
		_, err := u.Authenticate(t.Context(), a.username, a.password)
		if a.want == nil && err != nil || a.want != nil && !errors.Is(err, a.want) {
			t.Errorf("attempt %d (%s/%s): %v; want %v", i+1, a.username, a.password, err, a.want)
		}
	}
}

func TestThrottle(t *testing.T) {
	t.Parallel()
	const window = 15 * time.Minute
	bad, limited := auth.ErrInvalidCredentials, auth.ErrThrottled
	for _, username := range []string{"nina", "ghost"} { // an existing and an unknown account
		t.Run(username, func(t *testing.T) {
			clk := newClock()
			u := newUsers(t, enginetest.DB(t), auth.Options{MaxFailures: 3, Window: window, Now: clk.Now})
			mustCreate(t, u, "nina", "right-horse-battery")
			mustCreate(t, u, "other", "right-horse-battery")
			start := clk.Now()
			runAttempts(t, u, []attempt{
				{username, "wrong", bad},
				{username, "wrong", bad},
				{username, "wrong", bad},
				{username, "right-horse-battery", limited}, // even the right password
				{username, "wrong", limited},
				{"other", "right-horse-battery", nil}, // per account
			})
			_, err := u.Authenticate(t.Context(), username, "right-horse-battery")
			var te *auth.ThrottledError
			if !errors.As(err, &te) || !te.Until.Equal(start.Add(window)) {
				t.Errorf("throttled error %v; want a *ThrottledError until %v", err, start.Add(window))
			}

			clk.Advance(window - time.Millisecond)
			runAttempts(t, u, []attempt{{username, "right-horse-battery", limited}})

			// The window passes: attempts are counted afresh, and a
			// success resets the counter.
			clk.Advance(time.Millisecond)
			if username == "nina" {
				runAttempts(t, u, []attempt{
					{username, "wrong", bad},
					{username, "wrong", bad},
					{username, "right-horse-battery", nil}, // resets the counter
					{username, "wrong", bad},
					{username, "wrong", bad},
					{username, "wrong", bad},
					{username, "right-horse-battery", limited},
				})
			} else { // no success possible: 3 failures and out
				runAttempts(t, u, []attempt{
					{username, "wrong", bad},
					{username, "wrong", bad},
					{username, "right-horse-battery", bad},
					{username, "right-horse-battery", limited},
				})
			}
		})
	}
}

// TestThrottleShared: two stores on one database, as two processes
// would be, share the counters.
func TestThrottleShared(t *testing.T) {
	t.Parallel()
	clk := newClock()
	db := enginetest.DB(t)
	opts := auth.Options{MaxFailures: 3, Now: clk.Now}
	u1, u2 := newUsers(t, db, opts), newUsers(t, db, opts)
	mustCreate(t, u1, "olga", "right-horse-battery")
	runAttempts(t, u1, []attempt{{"olga", "wrong", auth.ErrInvalidCredentials}, {"olga", "wrong", auth.ErrInvalidCredentials}})
	runAttempts(t, u2, []attempt{{"olga", "wrong", auth.ErrInvalidCredentials}, {"olga", "right-horse-battery", auth.ErrThrottled}})
	runAttempts(t, u1, []attempt{{"olga", "right-horse-battery", auth.ErrThrottled}})
	// A reset through one store frees the account for the other.
	if err := u2.ResetFailures(t.Context(), "olga"); err != nil {
		t.Fatal(err)
	}
	runAttempts(t, u1, []attempt{{"olga", "right-horse-battery", nil}})
}

// TestThrottleConcurrent: 20 parallel wrong attempts, through two
// stores as two processes would, get exactly MaxFailures password
// checks: the counting is atomic without any read-modify-write.
func TestThrottleConcurrent(t *testing.T) {
	t.Parallel()
	const n = 20
	db := enginetest.DB(t)
	opts := auth.Options{} // the default MaxFailures
	stores := []*auth.Users{newUsers(t, db, opts), newUsers(t, db, opts)}
	mustCreate(t, stores[0], "pat", "right-horse-battery")
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = stores[i%2].Authenticate(t.Context(), "pat", "wrong") })
	}
	wg.Wait()
	var checked, throttled int
	for i, err := range errs {
		switch {
		case err == auth.ErrInvalidCredentials:
			checked++
		case errors.Is(err, auth.ErrThrottled):
			throttled++
		default:
			t.Errorf("attempt %d: %v", i, err)
		}
	}
	if checked != auth.DefaultMaxFailures || throttled != n-auth.DefaultMaxFailures {
		t.Errorf("%d checked, %d throttled; want %d and %d", checked, throttled, auth.DefaultMaxFailures, n-auth.DefaultMaxFailures)
	}
	if _, err := stores[1].Authenticate(t.Context(), "pat", "right-horse-battery"); !errors.Is(err, auth.ErrThrottled) {
		t.Errorf("the right password after the burst: %v; want ErrThrottled", err)
	}
}

func TestDeleteStaleFailures(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clk := newClock()
	db := enginetest.DB(t)
	u := newUsers(t, db, auth.Options{Window: 15 * time.Minute, Now: clk.Now})
	mustCreate(t, u, "quinn", "right-horse-battery")
	runAttempts(t, u, []attempt{
		{"quinn", "wrong", auth.ErrInvalidCredentials},
		{"quinn", "hunter2-hunter2", auth.ErrInvalidCredentials},
		{"nobody", "wrong", auth.ErrInvalidCredentials},
	})
	clk.Advance(16 * time.Minute) // the next window
	runAttempts(t, u, []attempt{{"rita", "wrong", auth.ErrInvalidCredentials}})
	coll := db.Collection(auth.FailuresCollection)

	// Rows hold no username or password in clear.
	cur, err := coll.Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var rows []bson.M
	if err := cur.All(ctx, &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows in %s; want 4: %v", len(rows), auth.FailuresCollection, rows)
	}
	rowID := regexp.MustCompile(`^[0-9a-f]{64}#[0-9]+#[0-9]+$`)
	for _, row := range rows {
		id, _ := row["_id"].(string)
		if !rowID.MatchString(id) {
			t.Errorf("row _id %v is not a hex SHA-256, a window and a slot", row["_id"])
		}
		for k, v := range row {
			if s, ok := v.(string); ok && k != "_id" {
				t.Errorf("row has a string field %s=%q", k, s)
			}
		}
	}

	// A counter of the previous version goes too.
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: strings.Repeat("ab", 32)}, {Key: "count", Value: 3}, {Key: "window_start", Value: clk.Now()}}); err != nil {
		t.Fatal(err)
	}
	n, err := u.DeleteStaleFailures(ctx) // quinn's and nobody's window is over, rita's not
	if err != nil || n != 4 {
		t.Errorf("DeleteStaleFailures = %d, %v; want 4", n, err)
	}
	if left, err := coll.CountDocuments(ctx, bson.D{}); err != nil || left != 1 {
		t.Errorf("%d rows left, %v; want 1", left, err)
	}
	// rita's row still counts.
	u2 := newUsers(t, db, auth.Options{MaxFailures: 1, Now: clk.Now})
	runAttempts(t, u2, []attempt{{"rita", "wrong", auth.ErrThrottled}, {"quinn", "wrong", auth.ErrInvalidCredentials}})
}
