// compose-config loads a Compose file the way `docker compose config` does, with
// the same library (github.com/compose-spec/compose-go/v2, the version docker
// compose v2.40 uses): schema validation, interpolation of ${VAR:-default} from the
// environment and env files, profiles (--profile or COMPOSE_PROFILES), merge keys,
// normalization and the consistency checks. It prints the resolved project (JSON
// by default, or YAML) and exits 1 with the loader's message when the file is invalid.
//
// Here no Docker engine runs and the docker CLI has no compose plugin;
// scripts/setup.sh builds this into infra/local/.cache/bin/compose-config, and
// test/e2e/compose.test.ts runs it.
//
//	compose-config [-f docker-compose.yml] [--env-file FILE]... [--profile NAME]... [--format json|yaml]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var files, envFiles, profiles list
	flag.Var(&files, "f", "compose file (repeatable; default: docker-compose.yml / compose.yaml in the project directory)")
	flag.Var(&envFiles, "env-file", "env file for interpolation (repeatable; default: .env)")
	flag.Var(&profiles, "profile", "profile to enable (repeatable; default: COMPOSE_PROFILES)")
	projectDir := flag.String("project-directory", "", "project directory (default: the first file's directory)")
	name := flag.String("project-name", "", "project name (default: the file's name: key)")
	format := flag.String("format", "json", "output format: json or yaml")
	flag.Parse()

	if err := run(files, envFiles, profiles, *projectDir, *name, *format); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(files, envFiles, profiles []string, projectDir, name, format string) error {
	// The same option chain as docker compose v2.40 (cmd/compose/compose.go toProjectOptions).
	opts, err := cli.NewProjectOptions(files,
		cli.WithWorkingDirectory(projectDir),
		cli.WithOsEnv,
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithConfigFileEnv,
		cli.WithDefaultConfigPath,
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithDefaultProfiles(profiles...),
		cli.WithName(name),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		return err
	}
	ctx := context.Background()
	project, err := opts.LoadProject(ctx)
	if err != nil {
		return err
	}
	project, err = project.WithServicesEnvironmentResolved(true)
	if err != nil {
		return err
	}
	if err := project.CheckContainerNameUnicity(); err != nil {
		return err
	}
	var out []byte
	switch format {
	case "json":
		out, err = project.MarshalJSON()
	case "yaml":
		out, err = project.MarshalYAML()
	default:
		return fmt.Errorf("unknown --format %q (json or yaml)", format)
	}
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(out)
	return err
}
