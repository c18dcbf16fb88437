package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hydrantio/hydrant/delivery/encrypt"
)

type decryptFlags struct {
	keyFile string
	keyEnv  string
	stdout  bool
	force   bool
}

func newDecryptCmd() *cobra.Command {
	var f decryptFlags
	cmd := &cobra.Command{
		Use:   "decrypt [--key-file FILE | --key-env VAR] [FILE...]",
		Short: "Decrypt objects that Hydrant encrypted (client-side encryption)",
		Long: `Decrypt objects that Hydrant delivered with client-side encryption (keys ending
in ` + encrypt.Extension + `), with the master keys Hydrant encrypted them with.

The master keys come from the environment variable ` + encrypt.EnvMasterKeys + `
(entries <id>:<base64 key> separated by commas), another variable named with
--key-env, or a key file given with --key-file (one <id>:<base64 key> per line).
Each object names the key it needs; keys of older objects must still be there.

With no FILE, or FILE "-", decrypt standard input to standard output. Each FILE
X` + encrypt.Extension + ` is decrypted to X beside it, created readable by you only; an existing
X is not overwritten unless --force. With --stdout, the plaintext of all the files
goes to standard output instead, one after the other.

Every chunk of an object is authenticated before its plaintext is used: a damaged,
truncated or tampered object is an error. A file is only created once its object
has been decrypted to the end, so no partial output is left behind; on standard
output, the plaintext before the damage has been written already, and decrypt
exits non-zero. Objects are usually compressed before they are encrypted: pipe
the output to the decompressor (gunzip, zstd -d).`,
		Example: `  hydrant decrypt --key-file keys.txt clicks-1-2026-01-01-00-00-00-0-99-x.gz.enc
  HYDRANT_MASTER_KEYS=k1:... hydrant decrypt < object.gz.enc | gunzip
  hydrant decrypt --stdout *.gz.enc | gunzip | wc -l`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDecrypt(cmd, &f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.keyFile, "key-file", "", "file of master keys, one <id>:<base64 key> per line")
	fl.StringVar(&f.keyEnv, "key-env", encrypt.EnvMasterKeys, "environment variable that holds the master keys, <id>:<base64 key> separated by commas")
	fl.BoolVarP(&f.stdout, "stdout", "o", false, "write all plaintext to standard output instead of to files")
	fl.BoolVarP(&f.force, "force", "f", false, "overwrite existing output files")
	cmd.MarkFlagsMutuallyExclusive("key-file", "key-env")
	return cmd
}

// decryptJob is one input of decrypt and where its plaintext goes.
type decryptJob struct {
	in  string // path, or "-" for standard input
	out string // path, or "" for standard output
}

func (j decryptJob) name() string {
	if j.in == "-" {
		return "standard input"
	}
	return j.in
}

func runDecrypt(cmd *cobra.Command, f *decryptFlags, args []string) error {
	if len(args) == 0 {
		args = []string{"-"}
	}
	// Check every name before decrypting anything.
	jobs := make([]decryptJob, len(args))
	for i, in := range args {
		jobs[i] = decryptJob{in: in}
		if in == "-" || f.stdout {
			continue
		}
		out, ok := strings.CutSuffix(in, encrypt.Extension)
		if !ok || filepath.Base(in) == encrypt.Extension {
			return fmt.Errorf("%s does not end in %s, so decrypt cannot name its plaintext: rename it, or write the plaintext to standard output with --stdout", in, encrypt.Extension)
		}
		if !f.force {
			if _, err := os.Lstat(out); err == nil {
				return fmt.Errorf("cannot decrypt %s: %s already exists; remove it or use --force to overwrite it", in, out)
			}
		}
		jobs[i].out = out
	}

	var kr *encrypt.Keyring
	var err error
	if f.keyFile != "" {
		kr, err = encrypt.LoadKeyFile(f.keyFile)
	} else {
		kr, err = encrypt.FromEnv(f.keyEnv)
	}
	if err != nil {
		return err
	}

	// On Ctrl-C, stop and remove the file being written.
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stdout := cmd.OutOrStdout()
	failed := 0
	var last error
	for _, j := range jobs {
		if j.out == "" {
			n, err := decryptStream(ctx, j, kr, stdout, cmd.InOrStdin())
			if err != nil {
				if n > 0 {
					err = fmt.Errorf("%w\n(%d bytes of its plaintext, before the damage, went to standard output)", err, n)
				}
				return err // later objects would follow incomplete output
			}
			continue
		}
		if err := decryptFile(ctx, j, kr, f.force); err != nil {
			if ctx.Err() != nil {
				return err
			}
			failed++
			last = err
			if len(jobs) > 1 {
				fmt.Fprintln(cmd.ErrOrStderr(), "hydrant:", err)
			}
		}
	}
	switch {
	case failed == 0:
		return nil
	case len(jobs) == 1:
		return last
	}
	return fmt.Errorf("%d of %d files not decrypted", failed, len(jobs))
}

// decryptStream decrypts j.in (a file, or stdin for "-") to w, and returns
// the number of plaintext bytes written.
func decryptStream(ctx context.Context, j decryptJob, kr *encrypt.Keyring, w io.Writer, stdin io.Reader) (int64, error) {
	src := stdin
	if j.in != "-" {
		file, err := os.Open(j.in)
		if err != nil {
			return 0, fmt.Errorf("cannot decrypt %s: %w", j.in, err)
		}
		defer file.Close()
		src = file
	}
	r, err := encrypt.NewReader(src, kr)
	if err != nil {
		return 0, fmt.Errorf("cannot decrypt %s: %w", j.name(), err)
	}
	n, err := io.Copy(ctxWriter{ctx, w}, r)
	if err != nil {
		return n, fmt.Errorf("cannot decrypt %s: %w", j.name(), interrupted(ctx, err))
	}
	return n, nil
}

// decryptFile decrypts j.in to j.out through a temporary file beside it,
// which becomes j.out only once the whole object is decrypted.
func decryptFile(ctx context.Context, j decryptJob, kr *encrypt.Keyring, force bool) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("cannot decrypt %s: %w", j.in, interrupted(ctx, err))
		}
	}()
	src, err := os.Open(j.in)
	if err != nil {
		return err
	}
	defer src.Close()
	r, err := encrypt.NewReader(src, kr)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(j.out), "."+filepath.Base(j.out)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	if _, err := io.Copy(ctxWriter{ctx, tmp}, r); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if force {
		return os.Rename(tmp.Name(), j.out)
	}
	// A hard link fails if j.out appeared since it was checked; rename
	// would replace it.
	err = os.Link(tmp.Name(), j.out)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists; remove it or use --force to overwrite it", j.out)
	}
	if err != nil { // a file system without hard links
		if _, serr := os.Lstat(j.out); serr == nil {
			return fmt.Errorf("%s already exists; remove it or use --force to overwrite it", j.out)
		}
		return os.Rename(tmp.Name(), j.out)
	}
	return nil
}

// ctxWriter fails writes once ctx is done, so that a long copy stops on
// Ctrl-C between chunks.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// interrupted replaces the error of a copy stopped by Ctrl-C.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return errors.New("interrupted")
	}
	return err
}
