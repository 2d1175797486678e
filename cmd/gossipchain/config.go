package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// configFile is the --config file of one command, read the first time a
// flag looks a value up in it: by then --config itself has its value
// from the command line or the environment.
type configFile struct {
	path   string          // --config; empty for none
	known  map[string]bool // keys any command takes
	loaded bool
	values map[string]string
	err    error
}

// load reads the file once. Every key must be a flag of some command,
// so a misspelt key fails instead of being silently ignored; a key of
// another command's flag is left to that command.
func (c *configFile) load() error {
	if c.loaded || c.path == "" {
		return c.err
	}
	c.loaded = true
	c.err = c.read()
	if c.err != nil {
		c.err = usageError{fmt.Errorf("--config %s: %w", c.path, c.err)}
	}
	return c.err
}

func (c *configFile) read() error {
	var raw map[string]any
	if _, err := toml.DecodeFile(c.path, &raw); err != nil {
		return err
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the same key reported on every run
	c.values = map[string]string{}
	for _, k := range keys {
		if !c.known[k] {
			return fmt.Errorf("unknown key %q: the keys are the flags' names without dashes, such as data-dir or api-token", k)
		}
		s, err := configValue(raw[k])
		if err != nil {
			return fmt.Errorf("key %q: %w", k, err)
		}
		c.values[k] = s
	}
	return nil
}

// configValue is a TOML value as a flag would take it on the command
// line. An array is a repeatable flag's values, joined as the flag
// splits them.
func configValue(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok || strings.Contains(s, ",") {
				return "", fmt.Errorf("want an array of strings without commas")
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("a %T: want a string, a number, a boolean or an array of strings", v)
}

// fileSource is a flag's key in the config file.
type fileSource struct {
	flag string
	file *configFile
}

func (s fileSource) Lookup() (string, bool) {
	if s.file.load() != nil {
		return "", false // the command's action reports the error
	}
	v, ok := s.file.values[s.flag]
	return v, ok
}
func (s fileSource) String() string   { return "key " + s.flag + " of --config " + s.file.path }
func (s fileSource) GoString() string { return "fileSource(" + s.flag + ")" }

// printVersion prints what the Go toolchain recorded in the binary: the
// module version (a tag for "go install ...@v1.2.3", "(devel)" for a
// build in a checkout), the commit and its time when built from git.
func printVersion(w io.Writer) error {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		_, err := fmt.Fprintln(w, "gossipchain: no build information in this binary")
		return err
	}
	fmt.Fprintf(w, "gossipchain %s\n", bi.Main.Version)
	var rev, at, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = " (with uncommitted changes)"
			}
		}
	}
	if rev != "" {
		fmt.Fprintf(w, "commit %s%s\n", rev, modified)
	}
	if at != "" {
		fmt.Fprintf(w, "commit time %s\n", at)
	}
	_, err := fmt.Fprintf(w, "go %s\n", bi.GoVersion)
	return err
}
