//go:build linux && !mips && !mipsle && !mips64 && !mips64le

package process

// Numbers the syscall package lacks, for the generic Linux ABIs.
const (
	rlimitNPROC       = 6
	sysMountSetattr   = 442 // mount_setattr(2), Linux 5.12
	haveMountSetattrN = true
)
