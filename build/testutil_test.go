package build

import v1 "github.com/google/go-containerregistry/pkg/v1"

// emptyBase stands for a base image with a busybox-like config.
func emptyBase() *v1.ConfigFile {
	return &v1.ConfigFile{
		OS: "linux", Architecture: "amd64",
		Config: v1.Config{
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cmd: []string{"sh"},
		},
		History: []v1.History{{CreatedBy: "/bin/sh -c #(nop)  CMD [\"sh\"]", EmptyLayer: true}},
	}
}
