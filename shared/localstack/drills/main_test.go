package drills

import (
	"os"
	"testing"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
)

func TestMain(m *testing.M) { os.Exit(gcloudemu.Main(m, gcloudemu.PubSub, gcloudemu.Firestore)) }
