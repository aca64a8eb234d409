//go:build !unix

package main

// watchParent does not watch anything where standard input cannot be read
// without blocking for good; nodes then outlive a runner that is killed.
func watchParent() (gone <-chan struct{}, stop func(), err error) {
	return nil, func() {}, nil
}
