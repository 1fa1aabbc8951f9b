package trembling

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/aspengo/aspengo/trembling/auth"
	"github.com/aspengo/aspengo/trembling/session/cookiestore"
)

// KeyFiles returns the keys of the accounts kept in the key directory
// dir (Config.KeyDir): the key of the device cookies (DeviceKeyFileName)
// and the pepper of the password hashes (PepperFileName), each made on
// first use. When dir is "" or does not exist both are nil, and the
// accounts keep them in the database, shared by every process that uses
// it (with a MongoDB server there may be no data directory at all).
// Every program that opens the accounts of a site (aspengo serve and
// aspengo user) must use the same keys.
func KeyFiles(dir string, log *slog.Logger) (deviceKey, pepper []byte, err error) {
	if dir == "" {
		return nil, nil, nil
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		log.Info("trembling: no key directory; the device cookie key and the password pepper are kept in the database", "dir", dir)
		return nil, nil, nil
	}
	deviceKey, err = loadOrCreateFileKey(filepath.Join(dir, DeviceKeyFileName), auth.MinDeviceKeySize)
	if err != nil {
		return nil, nil, fmt.Errorf("trembling: device cookie key: %w", err)
	}
	pepper, err = loadOrCreateFileKey(filepath.Join(dir, PepperFileName), auth.MinPepperSize)
	if err != nil {
		return nil, nil, fmt.Errorf("trembling: password pepper: %w", err)
	}
	return deviceKey, pepper, nil
}

// loadOrCreateFileKey reads the key in path, or makes one of size random
// bytes there (mode 0600, atomically: of two processes starting at once,
// both end up with the first one's key).
func loadOrCreateFileKey(path string, size int) ([]byte, error) {
	key, err := readFileKey(path, size)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*") // mode 0600
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	key = make([]byte, size)
	rand.Read(key)
	_, err = tmp.Write(key)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readFileKey(path, size)
		}
		return nil, err
	}
	return key, nil
}

// readFileKey reads a key file, refusing one that others may read or
// that is shorter than size.
func readFileKey(path string, size int) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(key) < size {
		return nil, fmt.Errorf("%s holds %d bytes, fewer than %d", path, len(key), size)
	}
	return key, nil
}

// loadOrCreateKey reads the cookie store's key from dir/KeyFileName,
// making the key (see loadOrCreateFileKey) on first use, and the
// directory (0700) when it is missing, with a .gitignore that keeps the
// key out of the site's repository.
func loadOrCreateKey(dir string) ([]byte, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		err = os.MkdirAll(dir, 0o700)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, ".gitignore"), []byte("# Written by aspengo: keys and data.\n*\n"), 0o600)
		}
		if err != nil {
			return nil, fmt.Errorf("trembling: cookie session key: %w", err)
		}
	}
	key, err := loadOrCreateFileKey(filepath.Join(dir, KeyFileName), cookiestore.MinSecretSize)
	if err != nil {
		return nil, fmt.Errorf("trembling: cookie session key: %w", err)
	}
	return key, nil
}
