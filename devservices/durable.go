package devservices

import (
	"context"
	"errors"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// createAutoTopicsDurably makes the broker auto-create topics through its CreateTopic path, which writes the
// topic list to the data directory before it answers, instead of through its metadata path, which creates the
// topic in memory only. kfake writes records, group commits and transaction state as they happen, but it
// writes the topic list only when a topic is created or deleted by request, or at clean shutdown; on restart it
// loads only the partitions of listed topics. Without this hook, a `kill -9` after a producer auto-created a
// topic loses the topic together with its records and committed offsets.
//
// The hook observes metadata requests that allow auto-creation and creates each named topic that is missing,
// with the cluster's default partition count, before kfake handles the request as usual (the topic then
// exists, so kfake's in-memory creation does not run). Creating a topic that exists is a no-op.
func createAutoTopicsDurably(c *kfake.Cluster) {
	c.ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		mreq, ok := req.(*kmsg.MetadataRequest)
		if !ok || !mreq.AllowAutoTopicCreation {
			return nil, nil, false
		}
		for i := range mreq.Topics {
			rt := &mreq.Topics[i]
			// A lookup by topic ID never creates a topic; neither does an unnamed entry.
			if rt.TopicID != [16]byte{} || rt.Topic == nil || *rt.Topic == "" {
				continue
			}
			// The control function runs outside the cluster's loop, which serves CreateTopic meanwhile. An
			// error is either "already exists" (the usual case) or one the metadata handler reports itself.
			_ = c.CreateTopic(*rt.Topic, -1, nil)
		}
		return nil, nil, false // not handled: kfake answers the request
	})
}

// gatedListener holds back Accept until open is called, so that no client reaches the broker before Start has
// installed its hooks (a metadata request in between would create a topic that a crash then loses).
type gatedListener struct {
	net.Listener
	inside    chan net.Conn
	opened    chan struct{}
	closed    chan struct{}
	openOnce  sync.Once
	closeOnce sync.Once
}

func newGatedListener(l net.Listener) *gatedListener {
	return &gatedListener{Listener: l, inside: make(chan net.Conn), opened: make(chan struct{}), closed: make(chan struct{})}
}

// open lets Accept through.
func (g *gatedListener) open() { g.openOnce.Do(func() { close(g.opened) }) }

// dialInside connects to the broker in-process (a pipe), through the gate while it is closed.
func (g *gatedListener) dialInside(ctx context.Context) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case g.inside <- server:
		return client, nil
	case <-g.opened:
		return nil, errors.New("dev services: the broker is open; dial it on its address")
	case <-g.closed:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Accept waits for open, then accepts; before open it returns only connections made by dialInside. It fails
// once the listener is closed.
func (g *gatedListener) Accept() (net.Conn, error) {
	select {
	case c := <-g.inside:
		return c, nil
	case <-g.opened:
	case <-g.closed:
		return nil, net.ErrClosed
	}
	return g.Listener.Accept()
}

// Close closes the listener and releases an Accept waiting for open.
func (g *gatedListener) Close() error {
	g.closeOnce.Do(func() { close(g.closed) })
	return g.Listener.Close()
}
