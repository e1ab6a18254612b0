//go:build !linux

package main

import "syscall"

// childAttr is empty where there is no parent-death signal. sealbench measures
// servers through /proc, so it is meant for Linux anyway.
func childAttr() *syscall.SysProcAttr { return nil }
