// Command kube-testenv runs a real, local Kubernetes control plane for tests:
// an embedded etcd, kube-apiserver and kube-controller-manager, all built from
// the Go modules of Kubernetes itself.
//
// Usage:
//
//	kube-testenv --dir DIR [--port N] [--keep-data]
//
// It listens on 127.0.0.1 only (free ports unless --port is given), writes
// DIR/kubeconfig (admin, client certificate in group system:masters) once
// /readyz answers ok, prints that path on stdout, and on SIGTERM or SIGINT stops
// every component and exits. etcd, the apiserver and the controller-manager
// run as child processes of this one (the same binary, re-executed with a
// hidden sub-command), so that their process-wide state (flags, metrics
// registries, signal handlers) never collides and each can be signalled on
// its own; they are killed by the kernel if this process dies (Pdeathsig), so
// no process outlives it.
//
// For fault injection it also writes, before the kubeconfig:
//
//   - DIR/proxy.kubeconfig: the same admin identity through a TCP proxy in
//     front of kube-apiserver that can reset or freeze connections;
//   - DIR/control-url: the URL of a small HTTP control API (see control.go)
//     that stops, starts, pauses and resumes kube-apiserver, pauses and
//     resumes etcd, compacts etcd and drives the proxy.
//
// A component the control API stops is expected to be down; any other exit of
// a component stops the whole control plane.
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
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

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
		case "etcd":
			if err := runEtcdChild(os.Args[2:]); err != nil {
				fmt.Fprintf(os.Stderr, "etcd: %v\n", err)
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
	keepData := flag.Bool("keep-data", false, "reuse the etcd data and certificates already under --dir (default: start empty with a new CA)")
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
	err := run(*dir, *port, !*noKCM, *keepData, *timeout)
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

func run(dir string, port int, withKCM, keepData bool, readyTimeout time.Duration) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// A stale kubeconfig must never be mistaken for a ready control plane.
	for _, f := range []string{"kubeconfig", "proxy.kubeconfig", "control-url"} {
		_ = os.Remove(filepath.Join(dir, f))
	}
	if !keepData {
		// Each run starts from an empty store: tests must not see leftovers.
		if err := os.RemoveAll(filepath.Join(dir, "etcd")); err != nil {
			return err
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	pki, err := loadOrWritePKI(filepath.Join(dir, "pki"), keepData)
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}

	children := newSupervisor(dir)
	defer children.stopAll()

	// etcd, in a child process of its own (see etcd.go).
	args, etcdURL, err := etcdArgs(dir)
	if err != nil {
		return err
	}
	etcdDone, err := children.start("etcd", args)
	if err != nil {
		return err
	}
	if err := waitEtcd(ctx, etcdURL, 60*time.Second, etcdDone); err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	logf("etcd ready at %s", etcdURL)

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
		done, err := children.start("kube-apiserver", apiServerArgs(dir, etcdURL, port, pki))
		if err != nil {
			return err
		}
		err = waitReady(ctx, server, adminTLS, readyTimeout, done)
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

	proxy, err := newFaultProxy(fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	defer proxy.close()
	control := &controlPlane{sup: children, proxy: proxy, etcdURL: etcdURL, apiserverURL: server,
		adminTLS: adminTLS, readyTimeout: readyTimeout}
	controlURL, err := serveControl(ctx, control)
	if err != nil {
		return fmt.Errorf("control API: %w", err)
	}
	logf("fault proxy at %s, control API at %s", proxy.addr(), controlURL)

	kubeconfig, err := pki.kubeconfig(server)
	if err != nil {
		return err
	}
	proxyKubeconfig, err := pki.kubeconfig("https://" + proxy.addr())
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
		if _, err := children.start("kube-controller-manager", kcmArgs); err != nil {
			return err
		}
	}

	for name, content := range map[string][]byte{"proxy.kubeconfig": proxyKubeconfig, "control-url": []byte(controlURL + "\n")} {
		if err := writeAtomically(filepath.Join(dir, name), content); err != nil {
			return err
		}
	}
	// The kubeconfig is the readiness signal: written last.
	path := filepath.Join(dir, "kubeconfig")
	if err := writeAtomically(path, kubeconfig); err != nil {
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

func writeAtomically(path string, content []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, content, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
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

// waitReady waits until kube-apiserver's /readyz answers ok; done closes if
// the process exits first.
func waitReady(ctx context.Context, server string, tlsConfig *tls.Config, timeout time.Duration, done <-chan struct{}) error {
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig}, Timeout: 5 * time.Second}
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return errors.New("interrupted while waiting for kube-apiserver")
		case <-done:
			return childExited{"kube-apiserver"}
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
