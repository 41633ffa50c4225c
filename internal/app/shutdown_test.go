package app_test

import (
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/store/etcd/etcdtest"
)

func TestShutdownReproStopped(t *testing.T) {
	c := etcdtest.Start(t)
	logs := &logBuffer{}
	o := staticOptions(t, c, logs)
	o.ShutdownTimeout = 2 * time.Second
	w := newWorld(t, o)
	_ = w.targetGroup("static", nil, newBackend(t, "first"))
	time.Sleep(time.Second)
	c.Members[0].Stop()
	time.Sleep(2 * time.Second)
	start := time.Now()
	err := w.s.App.Close()
	t.Logf("Close took %v err %v", time.Since(start), err)
}

func TestShutdownReproRestarted(t *testing.T) {
	c := etcdtest.Start(t)
	logs := &logBuffer{}
	o := staticOptions(t, c, logs)
	o.ShutdownTimeout = 2 * time.Second
	w := newWorld(t, o)
	_ = w.targetGroup("static", nil, newBackend(t, "first"))
	time.Sleep(time.Second)
	c.Members[0].Stop()
	time.Sleep(3 * time.Second)
	c.Members[0].Restart(t)
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	err := w.s.App.Close()
	t.Logf("Close took %v err %v", time.Since(start), err)
}
