package process

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
)

// The bootstraps run an unmodified Lambda handler as a worker; New writes
// them into the function's private directory, which the sandbox shows
// read-only at /var/runtime.
var (
	//go:embed bootstrap/python.py
	pythonBootstrap []byte
	//go:embed bootstrap/node.js
	nodeBootstrap []byte
)

// Bootstrap file names, in the runtime directory.
const (
	pythonBootstrapFile = "bootstrap.py"
	nodeBootstrapFile   = "bootstrap.js"
)

// writeBootstraps writes the bootstrap of runtime into dir, readable by
// all (the sandbox user is not the owner), and returns its file name.
func writeBootstraps(dir, runtime string) (string, error) {
	name, code := pythonBootstrapFile, pythonBootstrap
	if runtime == RuntimeNode {
		name, code = nodeBootstrapFile, nodeBootstrap
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, code, 0o444); err != nil {
		return "", fmt.Errorf("cannot write the %s bootstrap: %w", runtime, err)
	}
	if err := os.Chmod(path, 0o444); err != nil { // whatever the umask
		return "", fmt.Errorf("cannot write the %s bootstrap: %w", runtime, err)
	}
	return name, nil
}
