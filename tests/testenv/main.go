// Command kube-testenv runs a real, local Kubernetes control plane for tests:
// an embedded etcd, kube-apiserver and kube-controller-manager, all built from
// the Go modules of Kubernetes itself.
//
// Usage:
//
//	kube-testenv --dir DIR [--port N]
//
// It listens on 127.0.0.1 only (free ports unless --port is given), writes
// DIR/kubeconfig (admin, client certificate in group system:masters) once
// /readyz answers ok, prints that path on stdout, and on SIGTERM or SIGINT stops
// every component and exits. The apiserver and the controller-manager run as
// child processes of this one (the same binary, re-executed with a hidden
// sub-command), so that their process-wide state (flags, metrics registries,
// signal handlers) never collides; they are killed by the kernel if this
// process dies (Pdeathsig), so no process outlives it.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap/zapcore"

	apiserverapp "k8s.io/kubernetes/cmd/kube-apiserver/app"
	kcmapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	// Hidden sub-commands: the supervisor re-executes itself to run each component
	// in a process of its own.
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "kube-apiserver":
			cmd := apiserverapp.NewAPIServerCommand()
			cmd.SetArgs(os.Args[2:])
			if err := cmd.Execute(); err != nil {
				os.Exit(1)
			}
			return
		case "kube-controller-manager":
			cmd := kcmapp.NewControllerManagerCommand()
			cmd.SetArgs(os.Args[2:])
			if err := cmd.Execute(); err != nil {
				os.Exit(1)
			}
			return
		}
	}

	dir := flag.String("dir", "", "working directory: certificates, etcd data, logs and the kubeconfig are written here (required)")
	port := flag.Int("port", 0, "secure port of kube-apiserver on 127.0.0.1 (0: pick a free port)")
	noKCM := flag.Bool("no-controller-manager", false, "do not start kube-controller-manager")
	timeout := flag.Duration("ready-timeout", 3*time.Minute, "how long to wait for /readyz")
	removeDir := flag.Bool("remove-dir-on-exit", false, "delete --dir (certificates, etcd data, logs) after stopping")
	stdinEOF := flag.Bool("stop-on-stdin-eof", false, "stop when standard input reaches end of file (lets a parent process that dies, even by SIGKILL, take the control plane with it)")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "kube-testenv: --dir is required")
		flag.Usage()
		os.Exit(2)
	}
	if *stdinEOF {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			logf("standard input closed")
			_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
		}()
	}
	err := run(*dir, *port, !*noKCM, *timeout)
	if *removeDir {
		if rmErr := os.RemoveAll(*dir); rmErr != nil {
			logf("removing %s: %v", *dir, rmErr)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "kube-testenv: %v\n", err)
		os.Exit(1)
	}
}

func run(dir string, port int, withKCM bool, readyTimeout time.Duration) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// A stale kubeconfig must never be mistaken for a ready control plane.
	_ = os.Remove(filepath.Join(dir, "kubeconfig"))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	pki, err := writePKI(filepath.Join(dir, "pki"))
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}

	// etcd, in this process.
	etcd, etcdURL, err := startEtcd(filepath.Join(dir, "etcd"))
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	defer etcd.Close()
	logf("etcd ready at %s", etcdURL)

	var children supervisor
	defer children.stopAll()

	adminTLS, err := pki.clientTLS()
	if err != nil {
		return err
	}
	// A free port is only free until someone else takes it: when the port was
	// picked here and kube-apiserver dies before it is ready, try another.
	pickPort := port == 0
	var server string
	for attempt := 1; ; attempt++ {
		if pickPort {
			if port, err = freePort(); err != nil {
				return err
			}
		}
		server = fmt.Sprintf("https://127.0.0.1:%d", port)
		if err := children.start(dir, "kube-apiserver", apiServerArgs(dir, etcdURL, port, pki)); err != nil {
			return err
		}
		err = waitReady(ctx, server, adminTLS, readyTimeout, &children)
		if err == nil {
			break
		}
		var exited childExited
		if !pickPort || attempt == 3 || !errors.As(err, &exited) {
			return err
		}
		logf("%v; retrying on another port", err)
	}
	logf("kube-apiserver ready at %s", server)

	kubeconfig, err := pki.kubeconfig(server)
	if err != nil {
		return err
	}
	if withKCM {
		kcmConfig := filepath.Join(dir, "controller-manager.kubeconfig")
		if err := os.WriteFile(kcmConfig, kubeconfig, 0o600); err != nil {
			return err
		}
		kcmArgs := []string{
			"--kubeconfig=" + kcmConfig,
			"--authentication-kubeconfig=" + kcmConfig,
			"--authorization-kubeconfig=" + kcmConfig,
			"--bind-address=127.0.0.1",
			"--secure-port=0",
			"--leader-elect=false",
			"--service-account-private-key-file=" + pki.saKey,
			"--root-ca-file=" + pki.caCert,
			"--use-service-account-credentials=false",
			"--controllers=*,-bootstrapsigner,-tokencleaner",
			"--concurrent-gc-syncs=5",
			"--v=0",
		}
		if err := children.start(dir, "kube-controller-manager", kcmArgs); err != nil {
			return err
		}
	}

	// The kubeconfig is the readiness signal: write it atomically, last.
	path := filepath.Join(dir, "kubeconfig")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, kubeconfig, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	fmt.Println(path)

	select {
	case <-ctx.Done():
		logf("stopping")
		return nil
	case name := <-children.exited:
		return fmt.Errorf("%s exited unexpectedly; see %s", name, filepath.Join(dir, name+".log"))
	}
}

func apiServerArgs(dir, etcdURL string, port int, pki *pkiFiles) []string {
	return []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--tls-cert-file=" + pki.servingCert,
		"--tls-private-key-file=" + pki.servingKey,
		"--client-ca-file=" + pki.caCert,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--service-account-issuer=https://127.0.0.1:" + strconv.Itoa(port),
		"--service-account-key-file=" + pki.saPub,
		"--service-account-signing-key-file=" + pki.saKey,
		"--endpoint-reconciler-type=none",
		"--disable-admission-plugins=ServiceAccount",
		"--allow-privileged=true",
		"--cert-dir=" + filepath.Join(dir, "apiserver-certs"),
		"--v=0",
	}
}

// childExited is the error of a component that exited before it was ready.
type childExited struct{ name string }

func (e childExited) Error() string {
	return e.name + " exited before it was ready; see its log in the --dir"
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "kube-testenv: "+format+"\n", args...)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startEtcd(dataDir string) (*embed.Etcd, string, error) {
	// Each run starts from an empty store: tests must not see leftovers.
	if err := os.RemoveAll(dataDir); err != nil {
		return nil, "", err
	}
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
	cfg := embed.NewConfig()
	cfg.Dir = dataDir
	cfg.Name = "testenv"
	clientURL, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", clientPort))
	peerURL, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", peerPort))
	cfg.ListenClientUrls = []url.URL{*clientURL}
	cfg.AdvertiseClientUrls = []url.URL{*clientURL}
	cfg.ListenPeerUrls = []url.URL{*peerURL}
	cfg.AdvertisePeerUrls = []url.URL{*peerURL}
	cfg.InitialCluster = fmt.Sprintf("%s=%s", cfg.Name, peerURL.String())
	cfg.UnsafeNoFsync = true
	cfg.LogLevel = zapcore.ErrorLevel.String()
	cfg.LogOutputs = []string{filepath.Join(filepath.Dir(dataDir), "etcd.log")}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", err
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, "", errors.New("etcd did not become ready within 60s")
	}
	return e, clientURL.String(), nil
}

func waitReady(ctx context.Context, server string, tlsConfig *tls.Config, timeout time.Duration, children *supervisor) error {
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig}, Timeout: 5 * time.Second}
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return errors.New("interrupted while waiting for kube-apiserver")
		case name := <-children.exited:
			return childExited{name}
		case <-time.After(250 * time.Millisecond):
		}
		resp, err := client.Get(server + "/readyz")
		if err != nil {
			last = err.Error()
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		last = resp.Status
	}
	return fmt.Errorf("kube-apiserver not ready after %s (last: %s)", timeout, last)
}

// supervisor owns the child processes.
type supervisor struct {
	mu      sync.Mutex
	procs   []*exec.Cmd
	done    []chan struct{}
	exited  chan string
	once    sync.Once
	stopped bool
}

func (s *supervisor) start(dir, name string, args []string) error {
	s.once.Do(func() { s.exited = make(chan string, 4) })
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(self, append([]string{name}, args...)...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.procs = append(s.procs, cmd)
	s.done = append(s.done, done)
	s.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		close(done)
		logFile.Close()
		s.mu.Lock()
		stopped := s.stopped
		s.mu.Unlock()
		if !stopped {
			s.exited <- name
		}
	}()
	return nil
}

// stopAll stops the children in reverse start order: SIGTERM, then SIGKILL
// after a grace period.
func (s *supervisor) stopAll() {
	s.mu.Lock()
	s.stopped = true
	procs := append([]*exec.Cmd(nil), s.procs...)
	dones := append([]chan struct{}(nil), s.done...)
	s.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		cmd := procs[i]
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-dones[i]:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-dones[i]
		}
		// Anything the component forked lives in its process group.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
