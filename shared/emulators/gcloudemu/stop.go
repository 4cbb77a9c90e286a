package gcloudemu

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Stop ends the emulator's whole process group (SIGTERM, then SIGKILL after
// the grace period) and returns once no process of the group is alive and
// its port can be bound again; calling it again returns the first result.
func (e *Emulator) Stop() error {
	e.stopOnce.Do(func() { e.stopErr = e.stop() })
	return e.stopErr
}

func (e *Emulator) stop() error {
	pgid := e.cmd.Process.Pid // Setpgid with Pgid 0 makes the leader's pid the group id.
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signalling %s emulator group %d: %w", e.Kind.displayName(), pgid, err)
	}
	if !e.waitGone(pgid, e.cfg.stopGrace) {
		e.cfg.logger.Warn("emulator ignored SIGTERM, killing it", "kind", string(e.Kind), "host", e.Host, "pgid", pgid)
		if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("killing %s emulator group %d: %w", e.Kind.displayName(), pgid, err)
		}
		if !e.waitGone(pgid, 5*time.Second) {
			return fmt.Errorf("stopping %s emulator: process group %d still alive after SIGKILL", e.Kind.displayName(), pgid)
		}
	}
	if err := waitPortFree(e.Host, 10*time.Second); err != nil {
		return fmt.Errorf("stopping %s emulator: %w", e.Kind.displayName(), err)
	}
	e.cfg.logger.Debug("emulator stopped", "kind", string(e.Kind), "host", e.Host)
	return nil
}

// waitGone waits until gcloud itself has been reaped and no other live
// process is left in its group, or the timeout passes.
func (e *Emulator) waitGone(pgid int, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	select {
	case <-e.done:
	case <-deadline.C:
		return false
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for groupAlive(pgid) {
		select {
		case <-deadline.C:
			return false
		case <-tick.C:
		}
	}
	return true
}

// groupAlive reports whether any process of the group is still running.
// On Linux it reads /proc and ignores zombies: the Java server is reparented
// when gcloud exits, and whether its new parent reaps it is not ours to
// decide. Elsewhere it falls back to kill(-pgid, 0).
func groupAlive(pgid int) bool {
	if pids, ok := groupMembers(pgid); ok {
		return len(pids) > 0
	}
	return syscall.Kill(-pgid, 0) == nil
}

// groupMembers lists the live (not zombie) processes of the group from
// /proc; ok is false when /proc is not there.
func groupMembers(pgid int) (pids []int, ok bool) {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(stats) == 0 {
		return nil, false
	}
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the process ended while we looked
		}
		// After the command name in parentheses come: state ppid pgrp ...
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) < 3 {
			continue
		}
		state := string(f[0])
		if pg, err := strconv.Atoi(string(f[2])); err == nil && pg == pgid && state != "Z" && state != "X" {
			if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(path))); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids, true
}

// waitPortFree waits until addr can be bound again.
func waitPortFree(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		l, err := net.Listen("tcp", addr)
		if err == nil {
			l.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("port %s still in use after %s: %w", addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
