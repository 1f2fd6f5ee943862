package layers

import "golang.org/x/sys/unix"

const lockEX = unix.LOCK_EX
