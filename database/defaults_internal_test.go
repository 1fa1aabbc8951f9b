package database

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestClientOptionsDefaults checks the driver options a URI gets: the
// package's defaults where it sets nothing, and its own values where it
// does.
func TestClientOptionsDefaults(t *testing.T) {
	t.Parallel()
	type opts struct {
		ServerSelection, Connect, Operation time.Duration
		MaxPool                             uint64
		AppName                             string
	}
	tests := []struct {
		name    string
		uri     string
		options []Option
		want    opts
	}{
		{
			"plain URI", "mongodb://127.0.0.1:27017/", nil,
			opts{DefaultServerSelectionTimeout, DefaultConnectTimeout, DefaultTimeout, DefaultMaxPoolSize, "aspengo"},
		},
		{
			"WithTimeout bounds selection and connect", "mongodb://127.0.0.1:27017/", []Option{WithTimeout(30 * time.Second)},
			opts{30 * time.Second, 30 * time.Second, 30 * time.Second, DefaultMaxPoolSize, "aspengo"},
		},
		{
			"the URI wins",
			"mongodb://127.0.0.1:27017/?serverSelectionTimeoutMS=7000&connectTimeoutMS=9000&timeoutMS=11000&maxPoolSize=150&appName=mine",
			[]Option{WithTimeout(30 * time.Second)},
			opts{7 * time.Second, 9 * time.Second, 11 * time.Second, 150, "mine"},
		},
		{
			"maxPoolSize=0 (unlimited) in the URI wins", "mongodb://127.0.0.1:27017/?maxPoolSize=0", nil,
			opts{DefaultServerSelectionTimeout, DefaultConnectTimeout, DefaultTimeout, 0, "aspengo"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config{limits: defaultLimits}
			for _, o := range tt.options {
				o(&cfg)
			}
			o := clientOptions(tt.uri, cfg.limits)
			var got opts
			if o.ServerSelectionTimeout != nil {
				got.ServerSelection = *o.ServerSelectionTimeout
			}
			if o.ConnectTimeout != nil {
				got.Connect = *o.ConnectTimeout
			}
			if o.Timeout != nil {
				got.Operation = *o.Timeout
			}
			if o.MaxPoolSize != nil {
				got.MaxPool = *o.MaxPoolSize
			}
			if o.AppName != nil {
				got.AppName = *o.AppName
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
}
