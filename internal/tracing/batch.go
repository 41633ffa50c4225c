package tracing

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Batching limits: a batch goes out when it holds batchSize spans, or
// batchDelay after the last export; at most queueSize spans wait (more are
// dropped, as the SDK's batch processor drops them, rather than slow
// requests or grow without bound).
const (
	batchSize  = 512
	queueSize  = 4096
	batchDelay = time.Second
)

// batcher queues ended requests' spans and exports them in batches from a
// goroutine of its own. Unlike the OTel SDK's batch processor, which hands
// every span to its goroutine through a channel (a goroutine wake-up per
// span, on the request's path), a request is appended to a slice under a
// mutex, and the goroutine is woken once per full batch (or by its timer).
// Sizes count requests (each one or two spans).
type batcher struct {
	exp *exporter
	log *slog.Logger

	mu    sync.Mutex
	queue []*span
	spare []*span       // the previous batch's array, reused
	full  chan struct{} // cap 1: a batch is ready
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	exportMu sync.Mutex // one export at a time (the loop, ForceFlush, Shutdown)
	dropped  atomic.Uint64
	// lastLog (the loop's own) bounds the warnings to one a minute.
	lastLog       time.Time
	loggedDropped uint64
}

// logEvery bounds the exporter's warnings (failed exports, full queue).
const logEvery = time.Minute

// report logs a failed export or spans dropped at a full queue, at most
// once per logEvery: a collector that is down must not flood the log.
func (b *batcher) report(err error, now time.Time) {
	dropped := b.dropped.Load()
	if (err == nil && dropped == b.loggedDropped) || now.Sub(b.lastLog) < logEvery {
		return
	}
	b.lastLog = now
	b.log.Warn("spans were not exported", "err", err, "droppedAtFullQueue", dropped-b.loggedDropped)
	b.loggedDropped = dropped
}

func newBatcher(exp *exporter, log *slog.Logger) *batcher {
	b := &batcher{exp: exp, log: log, queue: make([]*span, 0, batchSize), full: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	go b.loop()
	return b
}

// add queues an ended request's spans.
func (b *batcher) add(s *span) {
	b.mu.Lock()
	if len(b.queue) >= queueSize {
		b.mu.Unlock()
		b.dropped.Add(1)
		return
	}
	b.queue = append(b.queue, s)
	n := len(b.queue)
	b.mu.Unlock()
	if n == batchSize {
		select {
		case b.full <- struct{}{}:
		default:
		}
	}
}

func (b *batcher) loop() {
	defer close(b.done)
	t := time.NewTimer(batchDelay)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-b.full:
		case <-t.C:
		}
		err := b.flush(context.Background())
		b.report(err, time.Now())
		t.Reset(batchDelay)
	}
}

// flush exports what is queued, in batches of at most batchSize.
func (b *batcher) flush(ctx context.Context) error {
	b.exportMu.Lock()
	defer b.exportMu.Unlock()
	b.mu.Lock()
	spans := b.queue
	b.queue, b.spare = b.spare[:0], nil // two arrays take turns
	b.mu.Unlock()
	var err error
	for i := 0; i < len(spans); i += batchSize {
		if e := b.exp.ExportSpans(ctx, spans[i:min(i+batchSize, len(spans))]); e != nil && err == nil {
			err = e
		}
	}
	clear(spans) // let the spans go
	b.mu.Lock()
	if cap(spans) <= queueSize {
		b.spare = spans[:0]
	}
	b.mu.Unlock()
	return err
}

// Shutdown stops the loop, exports what is queued and closes the
// exporter.
func (b *batcher) Shutdown(ctx context.Context) error {
	var err error
	b.once.Do(func() {
		close(b.stop)
		<-b.done
		err = b.flush(ctx)
		_ = b.exp.Shutdown(ctx)
	})
	return err
}
