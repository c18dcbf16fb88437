//go:build linux && (mips || mipsle || mips64 || mips64le)

package process

// Numbers the syscall package lacks, for the MIPS ABIs, whose
// mount_setattr number depends on the ABI: its remount fallback is used.
const (
	rlimitNPROC       = 8
	sysMountSetattr   = 0
	haveMountSetattrN = false
)
