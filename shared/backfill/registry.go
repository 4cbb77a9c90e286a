package backfill

import "fmt"

// registered are the backfill sources, in registration order (the order error messages list
// them in). shared/backfill/sourceset registers them, one line each.
var registered []Source

// Register adds sources to the registry. It is called once, from shared/backfill/sourceset's
// init; a name or a task key registered twice is a programming error.
func Register(srcs ...Source) {
	for _, s := range srcs {
		for _, r := range registered {
			if r.Name() == s.Name() || r.TaskKey() == s.TaskKey() {
				panic(fmt.Sprintf("backfill: source %s registered twice", s.Name()))
			}
		}
		registered = append(registered, s)
	}
}
