package logging

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/acme/userservice/platform/config"
)

// syncBuffer is a bytes.Buffer safe for the logger's flushing goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBufferedUntilAWarningOrStop(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	log, stop := build(config.Config{LogLevel: zapcore.InfoLevel, LogFormat: "json"}, &out)
	log.Info("first", zap.String("k", "v"))
	if out.String() != "" {
		t.Fatal("an info line was written at once: the output is not buffered")
	}
	log.Warn("careful")
	got := out.String()
	if !strings.Contains(got, `"msg":"first"`) || !strings.Contains(got, `"msg":"careful"`) {
		t.Fatalf("a warning must flush everything before it: %q", got)
	}
	log.Info("last")
	stop()
	if !strings.Contains(out.String(), `"msg":"last"`) {
		t.Fatal("stop must flush")
	}
	log.With(zap.String("child", "yes")).Error("from a child")
	if !strings.Contains(out.String(), "from a child") {
		t.Fatal("derived loggers must flush on errors too")
	}
}

func TestLevelAndFormat(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	log, stop := build(config.Config{LogLevel: zapcore.WarnLevel, LogFormat: "console"}, &out)
	log.Info("hidden")
	log.Warn("shown")
	stop()
	if strings.Contains(out.String(), "hidden") || !strings.Contains(out.String(), "shown") || strings.HasPrefix(out.String(), "{") {
		t.Fatalf("console output at warn: %q", out.String())
	}
}
