package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// component is one child process (etcd, kube-apiserver,
// kube-controller-manager): the same binary re-executed with a hidden
// sub-command. It can be stopped, started again with the same arguments,
// paused and resumed through the control API.
type component struct {
	name string
	args []string

	// Guarded by the supervisor's mutex.
	cmd      *exec.Cmd
	done     chan struct{}
	expected bool // the current process is being stopped on purpose
	paused   bool
}

// supervisor owns the child processes.
type supervisor struct {
	dir     string
	mu      sync.Mutex
	order   []*component // start order
	byName  map[string]*component
	exited  chan string // components that exited on their own
	stopped bool
}

func newSupervisor(dir string) *supervisor {
	return &supervisor{dir: dir, byName: map[string]*component{}, exited: make(chan string, 8)}
}

// start starts component name with args (or, when args is nil, with the
// arguments of its previous run). Its output is appended to DIR/NAME.log.
// The returned channel closes when this process exits.
func (s *supervisor) start(name string, args []string) (<-chan struct{}, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil, errors.New("the control plane is stopping")
	}
	c := s.byName[name]
	if c == nil {
		c = &component{name: name}
		s.byName[name] = c
		s.order = append(s.order, c)
	}
	if c.done != nil {
		select {
		case <-c.done:
		default:
			return nil, fmt.Errorf("%s is running", name)
		}
	}
	if args != nil {
		c.args = args
	}
	logFile, err := os.OpenFile(filepath.Join(s.dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, append([]string{name}, c.args...)...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	done := make(chan struct{})
	c.cmd, c.done, c.expected, c.paused = cmd, done, false, false
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		s.mu.Lock()
		report := !s.stopped && !c.expected && c.cmd == cmd
		s.mu.Unlock()
		close(done)
		if report {
			select {
			case s.exited <- name:
			default:
			}
		}
	}()
	return done, nil
}

// stop ends component name on purpose (its exit is not a failure of the
// control plane): sig first (a paused process is resumed so that it gets
// it), SIGKILL after grace. Stopping a stopped component does nothing.
func (s *supervisor) stop(name string, sig syscall.Signal, grace time.Duration) error {
	s.mu.Lock()
	c := s.byName[name]
	if c == nil || c.cmd == nil {
		s.mu.Unlock()
		return fmt.Errorf("no component %s", name)
	}
	c.expected = true
	cmd, done := c.cmd, c.done
	s.mu.Unlock()
	select {
	case <-done:
		return nil
	default:
	}
	_ = cmd.Process.Signal(sig)
	_ = cmd.Process.Signal(syscall.SIGCONT)
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
	// Anything the component forked lives in its process group.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	s.mu.Lock()
	c.paused = false
	s.mu.Unlock()
	return nil
}

// pause stops (SIGSTOP) or resumes (SIGCONT) component name.
func (s *supervisor) pause(name string, paused bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.byName[name]
	if c == nil || c.cmd == nil {
		return fmt.Errorf("no component %s", name)
	}
	select {
	case <-c.done:
		return fmt.Errorf("%s is not running", name)
	default:
	}
	sig := syscall.SIGCONT
	if paused {
		sig = syscall.SIGSTOP
	}
	if err := c.cmd.Process.Signal(sig); err != nil {
		return err
	}
	c.paused = paused
	return nil
}

// state is "running", "paused", "stopped" or "absent".
func (s *supervisor) state(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.byName[name]
	if c == nil || c.cmd == nil {
		return "absent"
	}
	select {
	case <-c.done:
		return "stopped"
	default:
	}
	if c.paused {
		return "paused"
	}
	return "running"
}

// stopAll stops the children in reverse start order: SIGTERM, then SIGKILL
// after a grace period. Paused children are resumed so that they can exit.
func (s *supervisor) stopAll() {
	s.mu.Lock()
	s.stopped = true
	order := append([]*component(nil), s.order...)
	s.mu.Unlock()
	for i := len(order) - 1; i >= 0; i-- {
		c := order[i]
		s.mu.Lock()
		cmd, done := c.cmd, c.done
		s.mu.Unlock()
		if cmd == nil {
			continue
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Process.Signal(syscall.SIGCONT)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
