package aspengo

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// inotifyMask is every change to a directory's entries or to the files in
// it.
const inotifyMask = unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CLOSE_WRITE |
	unix.IN_CREATE | unix.IN_DELETE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF |
	unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_ONLYDIR | unix.IN_DONT_FOLLOW

// inotifyBackend reads inotify without a goroutine of its own in the way,
// so that read sees every event queued before it was called: the kernel
// queues an event during the write that causes it.
type inotifyBackend struct {
	fd   int
	wake [2]int // a pipe that ends wait when the backend closes

	mu     sync.Mutex
	dirs   map[int32]string // watch descriptor → directory
	closed bool
	buf    []byte
}

func newWatchBackend() (watchBackend, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	b := &inotifyBackend{fd: fd, dirs: map[int32]string{}, buf: make([]byte, 64<<10)}
	if err := unix.Pipe2(b.wake[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("pipe: %w", err)
	}
	return b, nil
}

func (b *inotifyBackend) exact() bool { return true }

func (b *inotifyBackend) add(dir string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errWatchClosed
	}
	wd, err := unix.InotifyAddWatch(b.fd, dir, inotifyMask)
	if err != nil {
		return fmt.Errorf("inotify: watching %s: %w", dir, err)
	}
	b.dirs[int32(wd)] = dir
	return nil
}

// errOverflow: the kernel's queue overflowed and events were lost.
var errOverflow = errors.New("inotify: event queue overflowed")

func (b *inotifyBackend) read() ([]watchEvent, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errWatchClosed
	}
	var evs []watchEvent
	var rerr error
	for {
		n, err := unix.Read(b.fd, b.buf)
		if err != nil {
			if err != unix.EAGAIN && err != unix.EINTR {
				rerr = fmt.Errorf("inotify: %w", err)
			}
			break
		}
		if n < unix.SizeofInotifyEvent {
			break
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&b.buf[off]))
			nameBytes := b.buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
				rerr = errOverflow
				continue
			}
			dir, ok := b.dirs[ev.Wd]
			if ev.Mask&unix.IN_IGNORED != 0 {
				delete(b.dirs, ev.Wd)
			}
			if !ok {
				continue
			}
			name := dir
			if i := indexNUL(nameBytes); i > 0 {
				name = filepath.Join(dir, string(nameBytes[:i]))
			}
			evs = append(evs, watchEvent{name, ev.Mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0})
		}
	}
	return evs, rerr
}

// indexNUL returns the length of the NUL-padded name in b.
func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return len(b)
}

func (b *inotifyBackend) wait() error {
	fds := []unix.PollFd{{Fd: int32(b.fd), Events: unix.POLLIN}, {Fd: int32(b.wake[0]), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("inotify: poll: %w", err)
		}
		if fds[1].Revents != 0 {
			return errWatchClosed
		}
		if fds[0].Revents != 0 {
			return nil
		}
	}
}

func (b *inotifyBackend) close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	unix.Write(b.wake[1], []byte{0})
	return nil
}

// release closes the descriptors, once wait has returned for good.
func (b *inotifyBackend) release() {
	unix.Close(b.fd)
	unix.Close(b.wake[0])
	unix.Close(b.wake[1])
}
