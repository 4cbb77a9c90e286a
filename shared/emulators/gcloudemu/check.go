package gcloudemu

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
)

// Check reports, with a message that says what to install or change, why
// Start would fail before it runs anything: gcloud or java missing from PATH,
// the emulator component not installed, or the port of WithPort in use.
func Check(kind Kind, opts ...Option) error {
	return check(kind, newConfig(opts))
}

func check(kind Kind, cfg config) error {
	if err := kind.valid(); err != nil {
		return err
	}
	gcloud, err := cfg.lookPath("gcloud")
	if err != nil {
		return gcloudMissing(kind)
	}
	if _, err := cfg.lookPath("java"); err != nil {
		return fmt.Errorf("java not found: the %s emulator needs a Java 11+ runtime: apt-get install default-jre-headless", kind.displayName())
	}
	if err := checkComponent(kind, gcloud); err != nil {
		return err
	}
	if cfg.port != 0 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("port %d on 127.0.0.1 is in use, the %s emulator cannot bind it: stop what holds it or choose another port: %w", cfg.port, kind.displayName(), err)
		}
		l.Close()
	}
	return nil
}

func gcloudMissing(kind Kind) error {
	return fmt.Errorf("gcloud not found: install the Google Cloud SDK (https://cloud.google.com/sdk/docs/install) and the component: gcloud components install %s (or apt-get install %s)",
		kind.component(), kind.aptPackage())
}

// checkComponent looks for the emulator under the SDK that gcloud belongs to
// (SDK/bin/gcloud, SDK/platform/<component>). Asking `gcloud components list`
// would take seconds; the directory answers the same question at once. When
// the layout is not the SDK's (no SDK/lib/gcloud.py), it cannot tell and lets
// Start report what gcloud says.
func checkComponent(kind Kind, gcloud string) error {
	if resolved, err := filepath.EvalSymlinks(gcloud); err == nil {
		gcloud = resolved
	}
	root := filepath.Dir(filepath.Dir(gcloud))
	if _, err := os.Stat(filepath.Join(root, "lib", "gcloud.py")); err != nil {
		return nil
	}
	dir := filepath.Join(root, "platform", kind.component())
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("the %s emulator is not installed (no %s): gcloud components install %s (or apt-get install %s)",
			kind.displayName(), dir, kind.component(), kind.aptPackage())
	}
	return nil
}
