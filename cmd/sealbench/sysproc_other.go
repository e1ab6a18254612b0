//go:build !linux

package main

import (
	"syscall"
	"time"
)

// childAttr is empty where there is no parent-death signal. sealbench measures
// servers through /proc, so it is meant for Linux anyway.
func childAttr() *syscall.SysProcAttr { return nil }

// threadCPU cannot tell a thread's CPU time here.
func threadCPU() (time.Duration, bool) { return 0, false }
