package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// controlPlane is what the control API acts on.
type controlPlane struct {
	sup          *supervisor
	proxy        *faultProxy
	etcdURL      string
	apiserverURL string
	adminTLS     *tls.Config
	readyTimeout time.Duration

	// One fault at a time.
	mu sync.Mutex
}

// The control API: plain HTTP on 127.0.0.1, its URL in DIR/control-url.
// Every fault is a POST; each answers JSON (an object with "error" and
// status 500 on failure).
//
//	POST /apiserver/stop?signal=KILL|TERM    stop kube-apiserver (default KILL)
//	POST /apiserver/start                    start it again (same port, etcd data, CA and flags); waits for /readyz
//	POST /apiserver/restart?signal=KILL|TERM stop, then start
//	POST /apiserver/pause, /apiserver/resume SIGSTOP / SIGCONT
//	POST /etcd/pause, /etcd/resume           SIGSTOP / SIGCONT of the etcd process
//	POST /etcd/compact                       compact etcd's history to its current revision
//	POST /proxy/reset                        RST every connection through the proxy
//	POST /proxy/freeze?new=true|false        freeze open connections (and new ones with new=true)
//	POST /proxy/heal                         resume frozen connections
//	GET  /proxy                              proxy counters
//	GET  /status                             state of each component
func (cp *controlPlane) handler() http.Handler {
	mux := http.NewServeMux()
	post := func(path string, f func(r *http.Request) (any, error)) {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
			cp.mu.Lock()
			start := time.Now()
			out, err := f(r)
			cp.mu.Unlock()
			if err != nil {
				writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
				return
			}
			if out == nil {
				out = map[string]any{}
			}
			if m, ok := out.(map[string]any); ok {
				m["tookMs"] = time.Since(start).Milliseconds()
			}
			logf("control: %s %s (%s)", path, r.URL.RawQuery, time.Since(start).Round(time.Millisecond))
			writeJSON(w, http.StatusOK, out)
		})
	}
	post("/apiserver/stop", func(r *http.Request) (any, error) {
		return map[string]any{}, cp.stopAPIServer(r)
	})
	post("/apiserver/start", func(*http.Request) (any, error) {
		return map[string]any{}, cp.startAPIServer()
	})
	post("/apiserver/restart", func(r *http.Request) (any, error) {
		if err := cp.stopAPIServer(r); err != nil {
			return nil, err
		}
		return map[string]any{}, cp.startAPIServer()
	})
	for _, name := range []string{"apiserver", "etcd"} {
		component := name
		if name == "apiserver" {
			component = "kube-apiserver"
		}
		post("/"+name+"/pause", func(*http.Request) (any, error) {
			return map[string]any{}, cp.sup.pause(component, true)
		})
		post("/"+name+"/resume", func(*http.Request) (any, error) {
			return map[string]any{}, cp.sup.pause(component, false)
		})
	}
	post("/etcd/compact", func(r *http.Request) (any, error) {
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		rev, err := compactEtcd(ctx, cp.etcdURL)
		return map[string]any{"revision": rev}, err
	})
	post("/proxy/reset", func(*http.Request) (any, error) {
		return map[string]any{"connections": cp.proxy.reset()}, nil
	})
	post("/proxy/freeze", func(r *http.Request) (any, error) {
		freezeNew, _ := strconv.ParseBool(r.URL.Query().Get("new"))
		return map[string]any{"connections": cp.proxy.freeze(freezeNew)}, nil
	})
	post("/proxy/heal", func(*http.Request) (any, error) {
		return map[string]any{"connections": cp.proxy.heal()}, nil
	})
	mux.HandleFunc("GET /proxy", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, cp.proxy.stats())
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"etcd":                    cp.sup.state("etcd"),
			"kube-apiserver":          cp.sup.state("kube-apiserver"),
			"kube-controller-manager": cp.sup.state("kube-controller-manager"),
			"apiserver":               cp.apiserverURL,
			"proxy":                   cp.proxy.addr(),
			"etcdURL":                 cp.etcdURL,
		})
	})
	return mux
}

func (cp *controlPlane) stopAPIServer(r *http.Request) error {
	sig := syscall.SIGKILL
	switch r.URL.Query().Get("signal") {
	case "", "KILL":
	case "TERM":
		sig = syscall.SIGTERM
	default:
		return fmt.Errorf("signal must be KILL or TERM")
	}
	return cp.sup.stop("kube-apiserver", sig, 30*time.Second)
}

func (cp *controlPlane) startAPIServer() error {
	done, err := cp.sup.start("kube-apiserver", nil)
	if err != nil {
		return err
	}
	return waitReady(context.Background(), cp.apiserverURL, cp.adminTLS, cp.readyTimeout, done)
}

// serveControl serves the control API on a free loopback port; it returns its URL.
func serveControl(ctx context.Context, cp *controlPlane) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: cp.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	return "http://" + ln.Addr().String(), nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
