package executor

// Labels stack puts on a project's containers and networks — docker
// compose's names, so that `stack ps --filter label=...`, scripts and
// tools that know compose find them, and so that `down` finds what an
// interrupted `up` made without recording it.
const (
	LabelProject = "com.docker.compose.project"
	LabelService = "com.docker.compose.service"
	LabelNumber  = "com.docker.compose.container-number"
	LabelHash    = "com.docker.compose.config-hash"
	LabelOneOff  = "com.docker.compose.oneoff" // "True" on `stack run SERVICE` containers
)
