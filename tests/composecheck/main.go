// Command composecheck loads a compose file with compose-go, the loader
// Docker Compose itself uses, and prints the resolved project as JSON.
//
// It is the offline stand-in for `docker compose config` (no Docker engine
// or compose plugin is available where the tests run): compose-go validates
// the file against its embedded Compose Specification schema, interpolates
// variables from the environment (failing on `${VAR:?}` like Compose does),
// and checks references between services, volumes and networks.
//
// Usage: composecheck FILE [PROFILE,...]
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: composecheck FILE [PROFILE,...]")
		os.Exit(2)
	}
	options := []cli.ProjectOptionsFn{cli.WithOsEnv, cli.WithName("reqlog")}
	if len(os.Args) > 2 && os.Args[2] != "" {
		options = append(options, cli.WithProfiles(strings.Split(os.Args[2], ",")))
	}
	projectOptions, err := cli.NewProjectOptions([]string{os.Args[1]}, options...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	project, err := projectOptions.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println(string(out))
}
