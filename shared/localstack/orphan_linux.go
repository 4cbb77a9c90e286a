package localstack

import "syscall"

// dieWithParent has the kernel kill the functions process when the process that started it
// dies. The functions run in their own process group (so Stop can end the whole group), which
// also means nothing else ends them when a test binary is killed by go test's -timeout or a
// `go run ./scripts/dev` is killed with SIGKILL: they would stay behind, holding their port.
func dieWithParent(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
