package crashtest

import (
	"os"
	"path/filepath"
	"strings"
)

// runRecords counts the batch filesystem sink's run records in its staging directory (one directory per
// run, hidden ones excluded) and how many of them hold a commit manifest (manifest.json).
func runRecords(staging string) (records, manifests int) {
	recs, _ := os.ReadDir(staging)
	for _, r := range recs {
		if r.IsDir() && !strings.HasPrefix(r.Name(), ".") {
			records++
			if _, err := os.Stat(filepath.Join(staging, r.Name(), "manifest.json")); err == nil {
				manifests++
			}
		}
	}
	return records, manifests
}
