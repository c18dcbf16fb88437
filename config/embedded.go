package config

import (
	_ "embed"
	"fmt"
)

//go:embed embedded.yaml
var embeddedYAML []byte

// Embedded returns the configuration `hydrant serve` runs on when no config
// file is given: the server defaults plus the stream declared in
// embedded.yaml.
func Embedded() *Config {
	c, err := Parse("embedded.yaml", embeddedYAML)
	if err != nil {
		panic(fmt.Sprintf("config: the embedded defaults do not parse: %v", err))
	}
	return c
}
