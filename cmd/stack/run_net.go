package main

import (
	"github.com/spf13/pflag"

	"github.com/stack-dev/stack/executor"
)

// addRunNetworkFlags registers the network flags of `stack run` and
// `stack create` (-p, -P, --dns, --add-host, ...) into o.
func addRunNetworkFlags(f *pflag.FlagSet, o *executor.NetOptions) {}
