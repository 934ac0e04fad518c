//go:build linux

package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"
)

// ExecOutput runs a command inside the running sandbox name, as Exec
// does, and returns what it wrote to stdout and stderr together. Demos
// and challenge checks use it to ask the sandbox's own kernel view.
func ExecOutput(ctx context.Context, name string, args ...string) (string, Result, error) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		return "", Result{}, err
	}
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return "", Result{}, fmt.Errorf("a pipe for the output of %s: %w", args[0], err)
	}
	var out bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(&out, r)
	}()
	res, err := Exec(ctx, name, args, null, w, w, false)
	_ = w.Close()
	wg.Wait()
	_ = r.Close()
	return out.String(), res, err
}
