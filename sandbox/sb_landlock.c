/*
 * sb_landlock: Landlock rules that mirror the native sandbox's mounts
 * (sandbox.md 6.1 step 4), a second, independent fence in case a mount is
 * ever mis-set. Best effort: when the kernel lacks Landlock the sandbox
 * still starts with a note (decisions 18). Debian's headers trail the
 * kernel, so the constants and structures are defined here with our own
 * names. Everything runs in the child after no_new_privs, without
 * allocating.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/sb_int.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

#define LL_CREATE_VERSION (1u << 0)
#define LL_RULE_PATH_BENEATH 1

#define LL_EXECUTE (1ull << 0)
#define LL_WRITE_FILE (1ull << 1)
#define LL_READ_FILE (1ull << 2)
#define LL_READ_DIR (1ull << 3)
#define LL_REMOVE_DIR (1ull << 4)
#define LL_REMOVE_FILE (1ull << 5)
#define LL_MAKE_CHAR (1ull << 6)
#define LL_MAKE_DIR (1ull << 7)
#define LL_MAKE_REG (1ull << 8)
#define LL_MAKE_SOCK (1ull << 9)
#define LL_MAKE_FIFO (1ull << 10)
#define LL_MAKE_BLOCK (1ull << 11)
#define LL_MAKE_SYM (1ull << 12)
#define LL_REFER (1ull << 13)    /* ABI 2 */
#define LL_TRUNCATE (1ull << 14) /* ABI 3 */
#define LL_IOCTL_DEV (1ull << 15) /* ABI 5 */

#define LL_SCOPE_ABSTRACT_UNIX (1ull << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ull << 1)        /* ABI 6 */

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4 */
	uint64_t scoped;             /* ABI 6 */
};

struct ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

int sb__landlock_abi(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_VERSION);
	return v < 0 ? 0 : (int)v;
}

static uint64_t fs_all(int abi)
{
	uint64_t a = LL_EXECUTE | LL_WRITE_FILE | LL_READ_FILE | LL_READ_DIR | LL_REMOVE_DIR |
		     LL_REMOVE_FILE | LL_MAKE_CHAR | LL_MAKE_DIR | LL_MAKE_REG | LL_MAKE_SOCK |
		     LL_MAKE_FIFO | LL_MAKE_BLOCK | LL_MAKE_SYM;
	if (abi >= 2)
		a |= LL_REFER;
	if (abi >= 3)
		a |= LL_TRUNCATE;
	if (abi >= 5)
		a |= LL_IOCTL_DEV;
	return a;
}

static uint64_t rights(const struct sb_ll_rule *r, uint64_t all)
{
	const uint64_t file_rw = LL_READ_FILE | LL_WRITE_FILE | LL_TRUNCATE | LL_IOCTL_DEV;
	if (r->file < 0)
		return LL_READ_DIR; /* "/" : list directories, nothing more */
	if (r->file)
		return (r->write ? file_rw : (LL_READ_FILE | LL_EXECUTE)) & all;
	if (r->write)
		/* no device nodes anywhere; mknod is also denied by seccomp */
		return all & ~(LL_MAKE_CHAR | LL_MAKE_BLOCK);
	return (LL_EXECUTE | LL_READ_FILE | LL_READ_DIR) & all;
}

int sb__landlock_apply(const struct sb_ll_rule *rules, size_t n)
{
	int abi = sb__landlock_abi();
	if (abi <= 0)
		return 0;
	uint64_t all = fs_all(abi);
	struct ll_ruleset_attr attr = { .handled_access_fs = all };
	size_t attr_size = sizeof(uint64_t);
	if (abi >= 6) {
		/* no signals to, and no abstract sockets of, processes outside */
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		attr_size = sizeof(attr);
	}
	int rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
	if (rfd < 0)
		return -errno;
	for (size_t i = 0; i < n; i++) {
		int fd = open(rules[i].path, O_PATH | O_CLOEXEC);
		if (fd < 0)
			continue; /* nothing there, nothing to allow */
		struct ll_path_beneath pb = { .allowed_access = rights(&rules[i], all),
					      .parent_fd = fd };
		long rc = syscall(SYS_landlock_add_rule, rfd, LL_RULE_PATH_BENEATH, &pb, 0);
		if (rc && errno == EINVAL) {
			/* a file node takes file rights only; retry without dir bits */
			pb.allowed_access &= LL_READ_FILE | LL_WRITE_FILE | LL_TRUNCATE |
					     LL_IOCTL_DEV | LL_EXECUTE;
			rc = syscall(SYS_landlock_add_rule, rfd, LL_RULE_PATH_BENEATH, &pb, 0);
		}
		int e = errno;
		close(fd);
		if (rc) {
			close(rfd);
			return -e;
		}
	}
	long rc = syscall(SYS_landlock_restrict_self, rfd, 0);
	int e = errno;
	close(rfd);
	return rc ? -e : abi;
}
