// Command sql-client is Sluice's SQL client: an interactive shell, or a script runner with -f.
//
//	sql-client                      # interactive shell
//	sql-client -f script.sql        # run a script, exit non-zero on the first error
//	sql-client -i init.sql          # run init statements, then the shell
//	sql-client -D execution.runtime-mode=batch -f script.sql
//	sql-client gateway --endpoint 127.0.0.1:8083   # the shell against a SQL gateway (sluice gateway)
package main

import (
	"os"

	"golang.org/x/term"

	"github.com/sluicesql/sluice/client"
)

func main() {
	os.Exit(client.Main(client.Config{
		Args:        os.Args[1:],
		Stdin:       os.Stdin,
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
		Interactive: term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd())),
		Progress:    term.IsTerminal(int(os.Stderr.Fd())),
	}))
}
