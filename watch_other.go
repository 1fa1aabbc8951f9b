//go:build !linux

package aspengo

import "github.com/fsnotify/fsnotify"

func newWatchBackend() (watchBackend, error) {
	w, err := fsnotify.NewBufferedWatcher(1024)
	if err != nil {
		return nil, err
	}
	return &fsnotifyBackend{w: w}, nil
}
