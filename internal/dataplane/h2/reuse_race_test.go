package h2

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
)

type ctxKey struct{}

// A handler that derives a context with a value from the request's and
// registers an AfterFunc on it (as the proxy does when tracing wraps the
// request's context and its HTTP/1.1 client watches it): the context
// package then watches the stream from a goroutine of its own, which calls
// the stream's Done after the handler returned. The stream must not be
// recycled under it (run with -race: the stream's reuse was once decided
// on an unsynchronised read).
func TestDerivedContextAfterFuncAndReuse(t *testing.T) {
	_, addr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), ctxKey{}, 1)
		stop := context.AfterFunc(ctx, func() {})
		defer stop()
		io.WriteString(w, "ok")
	})
	c := h2cClient(t)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				res, err := c.Get("http://" + addr + "/")
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if string(b) != "ok" {
					t.Errorf("body %q", b)
					return
				}
			}
		}()
	}
	wg.Wait()
}
