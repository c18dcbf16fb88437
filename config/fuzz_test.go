package config

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, that every failure is
// a list of *Error naming the file, and that every success is valid. The
// seed corpus is in testdata/fuzz/FuzzParse; the error cases and the
// reference are added to it.
func FuzzParse(f *testing.F) {
	f.Add([]byte(Reference()))
	f.Add([]byte(full))
	for _, tt := range errorTests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data)
		if err != nil {
			if cfg != nil {
				t.Fatalf("Parse(%q) = %+v, %v; want no config with an error", data, cfg, err)
			}
			errs := []error{err}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				errs = j.Unwrap()
			}
			for _, e := range errs {
				var ce *Error
				if !errors.As(e, &ce) || !strings.HasPrefix(e.Error(), "fuzz.yaml") || ce.Message == "" {
					t.Fatalf("Parse(%q) = %#v; want *Error values naming fuzz.yaml", data, e)
				}
			}
			return
		}
		for i := range cfg.Streams {
			if err := cfg.Streams[i].Validate(); err != nil {
				t.Fatalf("Parse(%q) accepted an invalid stream: %v", data, err)
			}
		}
	})
}
