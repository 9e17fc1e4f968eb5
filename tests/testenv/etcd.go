package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os/signal"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// etcd runs in a child process of its own (the hidden "etcd" sub-command)
// rather than in the supervisor: SIGSTOP/SIGCONT of etcd is then a real
// pause of the whole server (raft, storage, gRPC and keepalives), as when the
// process is descheduled or its node freezes, and the supervisor (proxy,
// control API) keeps serving meanwhile. Freezing only its client traffic
// through a proxy would leave etcd's own timers running, which is a
// different fault.

// runEtcdChild is the "etcd" sub-command: an embedded etcd serving until
// SIGTERM or SIGINT.
func runEtcdChild(args []string) error {
	fs := flag.NewFlagSet("etcd", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "etcd data directory")
	clientURL := fs.String("client-url", "", "client URL (http://127.0.0.1:PORT)")
	peerURL := fs.String("peer-url", "", "peer URL (http://127.0.0.1:PORT)")
	logFile := fs.String("log-file", "", "etcd's own log")
	if err := fs.Parse(args); err != nil {
		return err
	}
	client, err := url.Parse(*clientURL)
	if err != nil {
		return err
	}
	peer, err := url.Parse(*peerURL)
	if err != nil {
		return err
	}
	cfg := embed.NewConfig()
	cfg.Dir = *dataDir
	cfg.Name = "testenv"
	cfg.ListenClientUrls = []url.URL{*client}
	cfg.AdvertiseClientUrls = []url.URL{*client}
	cfg.ListenPeerUrls = []url.URL{*peer}
	cfg.AdvertisePeerUrls = []url.URL{*peer}
	cfg.InitialCluster = fmt.Sprintf("%s=%s", cfg.Name, peer.String())
	cfg.UnsafeNoFsync = true
	cfg.LogLevel = zapcore.ErrorLevel.String()
	if *logFile != "" {
		cfg.LogOutputs = []string{*logFile}
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return err
	}
	defer e.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	select {
	case <-ctx.Done():
		return nil
	case err := <-e.Err():
		return err
	}
}

// etcdArgs are the arguments of the etcd child; it returns them with its client URL.
func etcdArgs(dir string) ([]string, string, error) {
	clientPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	peerPort, err := freePort()
	for err == nil && peerPort == clientPort {
		peerPort, err = freePort()
	}
	if err != nil {
		return nil, "", err
	}
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	return []string{
		"--data-dir=" + dir + "/etcd",
		"--client-url=" + clientURL,
		fmt.Sprintf("--peer-url=http://127.0.0.1:%d", peerPort),
		"--log-file=" + dir + "/etcd-server.log",
	}, clientURL, nil
}

// waitEtcd waits until etcd's /health says true.
func waitEtcd(ctx context.Context, clientURL string, timeout time.Duration, done <-chan struct{}) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return errors.New("interrupted while waiting for etcd")
		case <-done:
			return childExited{"etcd"}
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := client.Get(clientURL + "/health")
		if err != nil {
			last = err.Error()
			continue
		}
		var health struct {
			Health string `json:"health"`
		}
		err = json.NewDecoder(resp.Body).Decode(&health)
		resp.Body.Close()
		if err == nil && health.Health == "true" {
			return nil
		}
		last = fmt.Sprintf("%s (health %q, %v)", resp.Status, health.Health, err)
	}
	return fmt.Errorf("etcd not healthy after %s (last: %s)", timeout, last)
}

// compactEtcd compacts etcd's history up to its current revision (physically,
// so the old revisions are gone): a watch or list from an older
// resourceVersion that reaches etcd then fails with 410 Gone.
func compactEtcd(ctx context.Context, clientURL string) (int64, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{clientURL}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	resp, err := cli.Get(ctx, "/kube-testenv/compaction-probe")
	if err != nil {
		return 0, err
	}
	rev := resp.Header.Revision
	if _, err := cli.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
		return 0, err
	}
	return rev, nil
}
