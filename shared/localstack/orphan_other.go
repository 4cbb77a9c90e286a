//go:build !linux

package localstack

import "syscall"

// dieWithParent does nothing where the kernel has no parent-death signal: there, a functions
// process whose parent was killed outright stays behind and must be ended by hand.
func dieWithParent(*syscall.SysProcAttr) {}
