//go:build !unix

package client

import "os"

// openViewKeys: live views need a Unix terminal; elsewhere results print as tableau.
func openViewKeys(*os.File) viewKeys { return nil }
