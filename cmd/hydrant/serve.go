package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/hydrantio/hydrant/config"
	"github.com/hydrantio/hydrant/delivery"
	"github.com/hydrantio/hydrant/delivery/encrypt"
	"github.com/hydrantio/hydrant/ingest/firehoseapi"
	"github.com/hydrantio/hydrant/sinks/file"
	"github.com/hydrantio/hydrant/sinks/s3"
)

type serveFlags struct {
	config     string
	dataDir    string
	httpAddr   string
	grpcAddr   string
	kafkaAddr  string
	s3Endpoint string
	logLevel   string
	discard    bool
	pprof      bool
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Hydrant server",
		Long: `Run the Hydrant server: the Firehose API, /metrics, /healthz and /readyz on --http-addr,
durable stream logs under --data-dir, and delivery to the embedded object store
(<data-dir>/objects/<bucket>/<key>), or to the S3 server at --s3-endpoint (or
object_store.s3.endpoint in the config file). With no --config it starts on embedded defaults.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadServeConfig(cmd, &f)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cfg, f.discard, f.pprof)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "YAML config file (default: embedded defaults)")
	fl.StringVar(&f.dataDir, "data-dir", "", "data directory for stream logs and the embedded object store (default ./data)")
	fl.StringVar(&f.httpAddr, "http-addr", "", "listen address of the Firehose API, /metrics, /healthz and /readyz (default 127.0.0.1:4573)")
	fl.StringVar(&f.grpcAddr, "grpc-addr", "", "listen address reserved for the gRPC API (default 127.0.0.1:4574)")
	fl.StringVar(&f.kafkaAddr, "kafka-addr", "", "listen address reserved for the Kafka protocol (default off)")
	fl.StringVar(&f.s3Endpoint, "s3-endpoint", "", "URL of an S3 server that object destinations write to instead of the embedded object store, such as http://127.0.0.1:9000 (overrides object_store.s3.endpoint; credentials from the config or AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)")
	fl.StringVar(&f.logLevel, "log-level", "", "log level: debug, info, warn, error (default info)")
	fl.BoolVar(&f.discard, "discard", false, "benchmark baseline: decode Firehose requests and discard the records")
	_ = fl.MarkHidden("discard")
	fl.BoolVar(&f.pprof, "pprof", false, "serve Go's profiler at /debug/pprof/ on the HTTP port (loopback only)")
	return cmd
}

// hideServerFiles hides the server's own secrets from process functions:
// the config file and the master key file, which usually lie under /etc,
// a directory the sandbox shows. Paths a worker cannot see anyway are
// left alone by the sandbox.
func hideServerFiles(cfg *config.Config, configPath string) {
	var hide []string
	for _, p := range []string{configPath, cfg.Encryption.KeyFile} {
		if p == "" {
			continue
		}
		if abs, err := filepath.Abs(p); err == nil {
			hide = append(hide, abs)
		}
	}
	for i := range cfg.Functions {
		if f := &cfg.Functions[i]; f.Runtime == config.RuntimeProcess {
			f.Process.HiddenPaths = append(f.Process.HiddenPaths, hide...)
		}
	}
}

// loadServeConfig reads the config file (or the embedded defaults) and lets
// flags that were set explicitly override it.
func loadServeConfig(cmd *cobra.Command, f *serveFlags) (*config.Config, error) {
	var cfg *config.Config
	if f.config != "" {
		c, err := config.Load(f.config)
		if err != nil {
			return nil, err
		}
		cfg = c
	} else {
		cfg = config.Embedded()
	}
	fl := cmd.Flags()
	if fl.Changed("data-dir") {
		cfg.Server.DataDir = f.dataDir
	}
	if fl.Changed("http-addr") {
		cfg.Server.HTTPAddr = f.httpAddr
	}
	if fl.Changed("grpc-addr") {
		cfg.Server.GRPCAddr = f.grpcAddr
	}
	if fl.Changed("kafka-addr") {
		cfg.Server.KafkaAddr = f.kafkaAddr
	}
	if fl.Changed("s3-endpoint") {
		if f.s3Endpoint != "" {
			if _, err := s3.ParseEndpoint(f.s3Endpoint); err != nil {
				return nil, fmt.Errorf("--s3-endpoint: %w", err)
			}
		}
		cfg.ObjectStore.S3.Endpoint = f.s3Endpoint
	}
	if fl.Changed("log-level") {
		if err := cfg.Server.LogLevel.UnmarshalText([]byte(f.logLevel)); err != nil {
			return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", f.logLevel)
		}
	}
	hideServerFiles(cfg, f.config)
	return cfg, nil
}

func newLogger(level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == config.LogFormatJSON {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func serve(ctx context.Context, cfg *config.Config, discard, profile bool) error {
	logger := newLogger(cfg.Server.LogLevel, cfg.Server.LogFormat)
	spareP()
	dataDir, err := filepath.Abs(cfg.Server.DataDir)
	if err != nil {
		return fmt.Errorf("cannot resolve data dir %q: %w", cfg.Server.DataDir, err)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("cannot create data dir: %w", err)
	}
	unlock, err := lockDataDir(dataDir)
	if err != nil {
		return err
	}
	defer unlock()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	store, objectsAt, err := newObjectStore(cfg, dataDir, logger)
	if err != nil {
		return err
	}
	masterKeys, err := loadMasterKeys(cfg.Encryption, logger)
	if err != nil {
		return err
	}
	var streams firehoseapi.Streams
	var mgr *delivery.Manager
	if discard {
		streams = newDiscardStreams()
		logger.Warn("benchmark baseline mode: records are decoded and discarded, nothing is stored")
	} else {
		fns, err := startFunctions(ctx, cfg.Functions, logger)
		if err != nil {
			return err
		}
		// Deferred before the manager is closed below: the workers stop
		// invoking functions first.
		defer func() {
			if err := fns.close(); err != nil {
				logger.Warn("cannot stop a function cleanly", "err", err)
			}
		}()
		mgr, err = delivery.NewManager(delivery.Options{
			DataDir:   dataDir,
			Store:     store,
			Keys:      masterKeys,
			Functions: fns.byName,
			Region:    cfg.Server.Region,
			AccountID: cfg.Server.AccountID,
			NewRecordSink: newRecordSinks(logger, func(stream string) string {
				return "arn:aws:firehose:" + cfg.Server.Region + ":" + cfg.Server.AccountID + ":deliverystream/" + stream
			}),
			NewStore: func(c s3.Config) (delivery.ObjectStore, error) {
				return s3.New(c, logger.With("object_store", "s3", "endpoint", c.Endpoint))
			},
			Logger:     logger,
			Registerer: reg,
		})
		if err != nil {
			return corruptionHint(err, cfg.Server.DataDir)
		}
		if err := mgr.ApplyConfig(ctx, cfg.Streams); err != nil {
			closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = mgr.Close(closeCtx)
			return err
		}
		streams = mgr
	}

	keys := make(map[string]string, len(cfg.Auth.AccessKeys))
	for _, k := range cfg.Auth.AccessKeys {
		keys[k.ID] = k.Secret
	}
	api := firehoseapi.New(streams, firehoseapi.Options{
		Logger:     logger,
		Registerer: reg,
		Region:     cfg.Server.Region,
		AccountID:  cfg.Server.AccountID,
		AccessKeys: keys,
	})

	var ready atomic.Bool
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready\n", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("/", api)
	if profile {
		mux.Handle("/debug/pprof/", loopbackOnly(http.HandlerFunc(pprof.Index)))
		mux.Handle("/debug/pprof/profile", loopbackOnly(http.HandlerFunc(pprof.Profile)))
		mux.Handle("/debug/pprof/trace", loopbackOnly(http.HandlerFunc(pprof.Trace)))
		logger.Warn("profiler on at /debug/pprof/ (loopback clients only)")
	}

	ln, err := net.Listen("tcp", cfg.Server.HTTPAddr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s (set --http-addr to a free address): %w", cfg.Server.HTTPAddr, err)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	ready.Store(true)

	endpoint := "http://" + ln.Addr().String()
	if len(keys) == 0 {
		logger.Warn("no access keys configured: serving loopback clients only, without signature checks; add auth.access_keys to the config to serve other hosts")
	} else {
		logger.Info("SigV4 authentication on", "access_keys", len(keys))
	}
	if cfg.Server.GRPCAddr != "" || cfg.Server.KafkaAddr != "" {
		logger.Info("the gRPC and Kafka listeners are not part of this build yet; their addresses are reserved", "grpc_addr", cfg.Server.GRPCAddr, "kafka_addr", cfg.Server.KafkaAddr)
	}
	var names []string
	if mgr != nil {
		for _, s := range mgr.List() {
			names = append(names, s.Config.Name)
		}
	}
	logger.Info("hydrant is serving", "firehose_api", endpoint, "metrics", endpoint+"/metrics", "data_dir", dataDir, "objects", objectsAt, "streams", strings.Join(names, ","))
	stream := firstOr(names, "STREAM")
	fmt.Fprintf(os.Stderr, `
  Hydrant is up.
    Send records:  echo '{"hello":"hydrant"}' | %[5]s put --endpoint %[1]s --stream %[2]s
                   aws firehose put-record --endpoint-url %[1]s --delivery-stream-name %[2]s --record '{"Data":"eyJoZWxsbyI6Imh5ZHJhbnQifQo="}'
    Objects land:  %[3]s<bucket>/…  (buffers are delivered by size or interval, whichever comes first)
    Streams:       %[4]s  (%[5]s streams list | create | describe | delete)
    Metrics:       %[1]s/metrics
  Stop with Ctrl-C: what the logs hold is delivered first (up to 10 s); the rest after the next start.

`, endpoint, stream, objectsAt, strings.Join(names, ", "), os.Args[0])

	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
	}
	logger.Info("shutting down: finishing requests in flight, then stopping delivery")
	ready.Store(false)
	shutCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		logger.Warn("http shutdown", "err", err)
	}
	if mgr != nil {
		if err := mgr.Close(shutCtx); err != nil {
			return err
		}
	}
	logger.Info("stopped")
	return nil
}

// newObjectStore returns the store object destinations write to: the S3
// server the config names, or else the embedded file store under the data
// dir. It also returns where objects land, for the banner: an S3 URL base
// or a directory.
func newObjectStore(cfg *config.Config, dataDir string, logger *slog.Logger) (delivery.ObjectStore, string, error) {
	if cfg.ObjectStore.S3.Endpoint != "" {
		st, err := s3.New(cfg.ObjectStore.S3, logger.With("object_store", "s3"))
		if err != nil {
			return nil, "", err
		}
		logger.Info("object store: S3", "endpoint", st.Endpoint(), "region", st.Region(), "credentials", st.CredentialSource(),
			"force_path_style", cfg.ObjectStore.S3.ForcePathStyle, "create_buckets", cfg.ObjectStore.S3.CreateBuckets,
			"part_size", cfg.ObjectStore.S3.PartSize)
		return st, st.Endpoint() + "/", nil
	}
	dir := filepath.Join(dataDir, "objects")
	st, err := file.New(dir, logger)
	if err != nil {
		return nil, "", err
	}
	logger.Info("object store: embedded", "dir", dir)
	return st, dir + "/", nil
}

// spareP runs the server with one P more than Go's default (the CPUs it
// may use), unless GOMAXPROCS is set. Each log's writer goroutine comes
// back from fsync needing a P; with every P busy decoding request bodies,
// it waits for one to be preempted (up to 10 ms), and every producer's
// acknowledgement waits with it. With a spare P it runs at once, and the
// kernel shares the cores. Measured with make bench on 2 cores: the
// writer's scheduling delay was most of an append's time at 8 producers,
// and ingest rose by about 15 %; the --discard baseline, the same binary,
// is unchanged by it.
func spareP() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
	}
}

// loopbackOnly refuses requests from other hosts.
func loopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			http.Error(w, "the profiler serves loopback clients only", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

// lockDataDir takes an exclusive lock on the data dir so that two servers
// never share one log.
func lockDataDir(dir string) (func(), error) {
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data dir %s is in use by another hydrant process (lock %s): stop it or choose another --data-dir", dir, path)
	}
	return func() { f.Close() }, nil
}

// loadMasterKeys loads the master keys of client-side encryption: from the
// key file or the environment variable the config names, else from
// encrypt.EnvMasterKeys when it is set. It returns nil when there are none.
func loadMasterKeys(c config.Encryption, logger *slog.Logger) (*encrypt.Keyring, error) {
	var (
		kr  *encrypt.Keyring
		err error
	)
	switch {
	case c.KeyFile != "":
		kr, err = encrypt.LoadKeyFile(c.KeyFile)
	case c.KeysEnv != "":
		kr, err = encrypt.FromEnv(c.KeysEnv)
	case os.Getenv(encrypt.EnvMasterKeys) != "":
		kr, err = encrypt.FromEnv(encrypt.EnvMasterKeys)
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	logger.Info("client-side encryption master keys loaded", "keys", len(kr.IDs()), "current", kr.Current())
	return kr, nil
}
