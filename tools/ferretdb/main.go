// Command rebal-ferretdb runs FerretDB v1 (the embeddable package) with its SQLite backend on a
// loopback address, so the MongoDB store adapter can be tested over the real MongoDB wire
// protocol without Docker (docs/design.md §5). It is a test tool: no authentication, no TLS, no telemetry.
//
//	rebal-ferretdb -listen 127.0.0.1:27017 -data-dir var/ferretdb
//
// It prints one line "rebal-ferretdb ready mongodb://HOST:PORT/" on stdout once it accepts
// connections, and stops on SIGTERM or SIGINT.
//
// Why a wrapper and not `go install github.com/FerretDB/FerretDB/cmd/ferretdb`: that build panics
// on the missing build/version/version.txt, which only FerretDB's own release tooling generates.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "loopback TCP address to listen on (port 0: any free port)")
	dataDir := flag.String("data-dir", "var/ferretdb", "directory of the SQLite files (created if missing)")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn or error")
	flag.Parse()

	if err := run(*listen, *dataDir, *logLevel); err != nil {
		fmt.Fprintln(os.Stderr, "rebal-ferretdb:", err)
		os.Exit(1)
	}
}

func run(listen, dataDir, logLevel string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("-listen %q: %w", listen, err)
	}
	// No authentication is configured, so never listen beyond this machine.
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-listen %q: only loopback addresses are allowed (test tool, no auth)", listen)
	}

	var level slog.Level
	if err = level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("-log-level %q: %w", logLevel, err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	if err = os.MkdirAll(dir, 0o755); err != nil {
		return err
	}

	// ferretdb.New disables (and locks) telemetry itself and keeps its state in memory only;
	// authentication stays off (the new authentication is opt-in and not enabled here).
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
	})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	// New has already bound the listener; MongoDBURI waits until it is ready.
	fmt.Printf("rebal-ferretdb ready %s\n", f.MongoDBURI())

	return <-done
}
