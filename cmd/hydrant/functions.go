package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/hydrantio/hydrant/config"
	"github.com/hydrantio/hydrant/delivery"
	"github.com/hydrantio/hydrant/transform"
	fnhttp "github.com/hydrantio/hydrant/transform/http"
	"github.com/hydrantio/hydrant/transform/process"
	"github.com/hydrantio/hydrant/transform/wasm"
)

// functions are the running transformation functions of the config.
type functions struct {
	byName map[string]delivery.Function
	all    []transform.Function
}

// startFunctions starts every function fns declares. Whatever part of a
// process function's sandbox the host cannot apply is logged as a warning
// naming the function, at start, never skipped silently (process.New).
func startFunctions(ctx context.Context, fns []config.Function, logger *slog.Logger) (*functions, error) {
	out := &functions{byName: make(map[string]delivery.Function, len(fns))}
	for _, f := range fns {
		fn, err := startFunction(ctx, f, logger)
		if err != nil {
			out.close()
			return nil, err
		}
		out.all = append(out.all, fn)
		out.byName[f.Name] = delivery.Function{Transformer: fn, Timeout: f.Timeout}
	}
	return out, nil
}

func startFunction(ctx context.Context, f config.Function, logger *slog.Logger) (transform.Function, error) {
	log := logger.With("function", f.Name, "runtime", f.Runtime)
	var fn transform.Function
	var err error
	switch f.Runtime {
	case config.RuntimeWasm:
		fn, err = wasm.New(ctx, f.Wasm, log)
	case config.RuntimeProcess:
		// New names the function in its logs, and logs at Warn each part
		// of the sandbox the host cannot apply.
		fn, _, err = process.New(ctx, f.Name, f.Process, logger.With("runtime", f.Runtime))
	case config.RuntimeHTTP:
		fn, err = fnhttp.New(f.HTTP, log)
	default:
		err = fmt.Errorf("unknown runtime %q", f.Runtime)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot start function %s (%s runtime): %w", f.Name, f.Runtime, err)
	}
	log.Info("function ready", "timeout", f.Timeout)
	return fn, nil
}

// close stops every function.
func (fs *functions) close() error {
	var errs []error
	for _, fn := range fs.all {
		errs = append(errs, fn.Close())
	}
	return errors.Join(errs...)
}
