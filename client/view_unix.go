//go:build unix

package client

import (
	"os"
	"syscall"
	"time"

	"golang.org/x/term"
)

// ttyKeys reads keys from the terminal in raw mode without keeping a read pending after the view closed
// (the shell's line editor reads the terminal next).
type ttyKeys struct {
	fd    int
	state *term.State
	f     *os.File
	ch    chan byte
	done  chan struct{}
}

// openViewKeys puts the terminal tty into raw mode for a view; nil when it is not possible.
func openViewKeys(tty *os.File) viewKeys {
	fd := int(tty.Fd())
	if !term.IsTerminal(fd) {
		return nil
	}
	st, err := term.MakeRaw(fd)
	if err != nil {
		return nil
	}
	dup, err := syscall.Dup(fd)
	if err != nil {
		term.Restore(fd, st)
		return nil
	}
	syscall.SetNonblock(dup, true) // shared with fd: undone by stop
	k := &ttyKeys{fd: fd, state: st, f: os.NewFile(uintptr(dup), "tty"), ch: make(chan byte, 64), done: make(chan struct{})}
	go func() {
		defer close(k.done)
		buf := make([]byte, 64)
		for {
			n, err := k.f.Read(buf)
			for _, b := range buf[:n] {
				k.ch <- b
			}
			if err != nil {
				return
			}
		}
	}()
	return k
}

func (k *ttyKeys) keys() <-chan byte { return k.ch }

func (k *ttyKeys) stop() {
	k.f.SetReadDeadline(time.Now())
	go func() {
		for range k.ch {
		}
	}()
	<-k.done
	close(k.ch)
	k.f.Close()
	syscall.SetNonblock(k.fd, false)
	term.Restore(k.fd, k.state)
}

func (k *ttyKeys) size() (int, int) {
	c, r, err := term.GetSize(k.fd)
	if err != nil || c <= 0 || r <= 0 {
		return 80, 24
	}
	return c, r
}
