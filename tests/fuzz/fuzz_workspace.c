/*
 * Structure-aware libFuzzer target for the workspace's tree walks
 * (ws_snapshot.c, ws_restore.c) on hostile trees. The input is a list of
 * operations that build a file tree: directories, files with modes
 * (setuid, setgid, unreadable directories), symlinks (into a canary
 * directory beside the tree, to absolute paths, dangling, loops), hard
 * links, FIFOs and odd names (non-UTF-8, long, leading dashes). A marker
 * operation ends the lock-time tree; what follows is the sandbox's
 * changes. Then: the lock snapshot with blobs, the unlock scan and image
 * restore into a fresh directory, a rollback restore of the manifest into
 * another, and the in-place sanitising walk of the directory strategy.
 *
 * Checks beyond no crash or leak: nothing is ever written outside the
 * tree (the canary directory beside it stays as it was); restored trees
 * hold no setuid/setgid file and no FIFO; restored files have the bytes
 * the scan hashed; the rollback recreates every manifest file with its
 * lock-time hash; every failure carries a message.
 *
 * Everything happens in one private directory under $TMPDIR. Before the
 * first input the process restricts itself with Landlock so that it can
 * write only there, in the corpus directories named on its command line,
 * its artifact directory and $TMPDIR: a walk that followed a symlink out
 * could not touch anything else. Without Landlock the target does nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/sb_int.h"
#include "workspace/ws_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char base[4096];
static int ready; /* 1, or -1: no Landlock, do nothing */
static unsigned long run;

static const char *const names[] = {
	"a", "b", "c", ".git", "x y", "\xff\xfe", "\xc3\xa9t\xc3\xa9", "lost+found", "-rf",
	"hooks", "Makefile", "a.silo-rollback", ".silo-trash",
	"llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll"
	"llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll"
	"lllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))

static int abs_path(const char *p)
{
	return p && p[0] == '/';
}

static int fuzz_landlock(int argc, char **argv)
{
	if (sb__landlock_abi() <= 0)
		return -1;
	struct sb_ll_rule rules[64];
	size_t n = 0;
	static char cwd[4096];
	rules[n++] = (struct sb_ll_rule){ .path = "/", .file = 0, .write = 0 };
	rules[n++] = (struct sb_ll_rule){ .path = "/dev/null", .file = 1, .write = 1 };
	rules[n++] = (struct sb_ll_rule){ .path = base, .file = 0, .write = 1 };
	const char *tmp = getenv("TMPDIR");
	if (abs_path(tmp))
		rules[n++] = (struct sb_ll_rule){ .path = tmp, .file = 0, .write = 1 };
	int prefixed = 0;
	for (int i = 1; i < argc && n < 60; i++) {
		const char *a = argv[i];
		if (!strncmp(a, "-artifact_prefix=", 17)) {
			/* a directory, or a directory plus a file name prefix */
			static char dir[4096];
			snprintf(dir, sizeof(dir), "%s", a + 17);
			char *slash = strrchr(dir, '/');
			if (slash && slash[1])
				*slash = '\0';
			rules[n++] = (struct sb_ll_rule){ .path = dir[0] ? dir : ".", .file = 0,
							  .write = 1 };
			prefixed = 1;
		} else if (a[0] != '-') {
			rules[n++] = (struct sb_ll_rule){ .path = a, .file = 0, .write = 1 };
		}
	}
	/* crash artifacts go to the working directory by default */
	if (!prefixed && getcwd(cwd, sizeof(cwd)))
		rules[n++] = (struct sb_ll_rule){ .path = cwd, .file = 0, .write = 1 };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	if (sb__landlock_apply(rules, n) <= 0)
		return -1;
	/* the fence must hold: a file at the root is refused */
	char probe[64];
	snprintf(probe, sizeof(probe), "/silo-fuzz-ws-probe.%d", (int)getpid());
	int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
		unlink(probe);
		fprintf(stderr, "fuzz_workspace: Landlock did not restrict writes\n");
		abort();
	}
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(base, sizeof(base), "%s/silo-fuzz-ws.XXXXXX", abs_path(tmp) ? tmp : "/tmp");
	if (!mkdtemp(base) || fuzz_landlock(*argc, *argv)) {
		fprintf(stderr, "fuzz_workspace: Landlock unavailable; not running\n");
		ready = -1;
		return 0;
	}
	ready = 1;
	return 0;
}

static void cleanup(void)
{
	int fd = open("/", O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		ws__rm_at(fd, base + 1);
		close(fd);
	}
}

/* ---- the input as a byte stream ---- */

struct in {
	const uint8_t *p;
	size_t n;
};

static int byte(struct in *in)
{
	if (!in->n)
		return -1;
	in->n--;
	return *in->p++;
}

/* A relative path of one to three names from the table. */
static void path(struct in *in, char *out, size_t cap)
{
	int depth = byte(in);
	depth = depth < 0 ? 1 : depth % 3 + 1;
	out[0] = '\0';
	for (int i = 0; i < depth; i++) {
		int k = byte(in);
		const char *nm = names[(k < 0 ? 0 : k) % NNAMES];
		size_t l = strlen(out);
		snprintf(out + l, cap - l, "%s%s", i ? "/" : "", nm);
	}
}

/* Opens the parent directory of rel under root without following any
 * symlink; *leaf points at the last name. -1 when a component is not a
 * directory. */
static int open_parent(int root, char *rel, char **leaf)
{
	int fd = dup(root);
	char *s = rel, *slash;
	while (fd >= 0 && (slash = strchr(s, '/'))) {
		*slash = '\0';
		int nfd = openat(fd, s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		*slash = '/';
		close(fd);
		fd = nfd;
		s = slash + 1;
	}
	*leaf = s;
	return fd;
}

/* Applies operations to the tree at root until the input ends or a phase
 * marker; returns 1 at a marker. Failures are part of the game. */
static int build(struct in *in, int root, const char *outside)
{
	static const unsigned modes[] = { 0644, 0755, 04755, 02755, 06777, 0000, 0600, 01777 };
	char rel[1024], other[1024], target[1200];
	int op;
	while ((op = byte(in)) >= 0) {
		if (op % 9 == 8)
			return 1;
		path(in, rel, sizeof(rel));
		char *leaf;
		int dfd = open_parent(root, rel, &leaf);
		if (dfd < 0)
			continue;
		int m = byte(in);
		unsigned mode = modes[(m < 0 ? 0 : m) % 8];
		switch (op % 9) {
		case 0:
			mkdirat(dfd, leaf, 0755);
			break;
		case 1: {
			int len = byte(in);
			len = len < 0 ? 0 : len;
			if ((size_t)len > in->n)
				len = (int)in->n;
			/* non-blocking: the name may be a FIFO without a reader */
			int fd = openat(dfd, leaf,
					O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
					0644);
			if (fd >= 0) {
				if (write(fd, in->p, (size_t)len) < 0)
					len = 0;
				close(fd);
			}
			in->p += len;
			in->n -= (size_t)len;
			break;
		}
		case 2: {
			static const char *const targets[] = {
				"../outside/keep", "../../outside", "../../../outside/d/new", "/",
				"/etc/passwd", ".", "..", "a", "a/b", "dangling", "b", NULL,
			};
			int k = byte(in);
			k = (k < 0 ? 0 : k) % 12;
			if (targets[k])
				snprintf(target, sizeof(target), "%s", targets[k]);
			else /* the canary by absolute path */
				snprintf(target, sizeof(target), "%s/keep", outside);
			symlinkat(target, dfd, leaf);
			break;
		}
		case 3: {
			path(in, other, sizeof(other));
			char *oleaf;
			int ofd = open_parent(root, other, &oleaf);
			if (ofd >= 0) {
				linkat(ofd, oleaf, dfd, leaf, 0);
				close(ofd);
			}
			break;
		}
		case 4:
			mkfifoat(dfd, leaf, 0644);
			break;
		case 5:
		case 6: {
			int fd = openat(dfd, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
			if (fd >= 0) {
				fchmod(fd, mode);
				close(fd);
			}
			break;
		}
		case 7:
			ws__rm_at(dfd, leaf);
			break;
		}
		close(dfd);
	}
	return 0;
}

/* ---- checks ---- */

static void check_outside(const char *outside)
{
	char p[4200], buf[16];
	snprintf(p, sizeof(p), "%s/keep", outside);
	int fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t r = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
	if (fd >= 0)
		close(fd);
	struct stat st;
	if (r != 5 || memcmp(buf, "keep\n", 5) || lstat(p, &st) || (st.st_mode & 07777) != 0644) {
		fprintf(stderr, "fuzz_workspace: the canary %s was changed\n", p);
		abort();
	}
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s%s", outside, i ? "/d" : "");
		DIR *d = opendir(p);
		if (!d)
			abort();
		int n = 0;
		struct dirent *e;
		while ((e = readdir(d)))
			n++;
		closedir(d);
		if (n != (i ? 2 : 4)) {
			fprintf(stderr, "fuzz_workspace: something was written into %s\n", p);
			abort();
		}
	}
}

/* A restored tree: no setuid/setgid, no FIFO or other special file. */
static void check_clean(const struct ws_list *l, const char *what)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct ws_node *n = &l->v[i];
		if (n->kind == WS_K_SPECIAL || (n->kind == WS_K_FILE && (n->mode & 06000))) {
			fprintf(stderr, "fuzz_workspace: %s left %s (kind %c, mode %o)\n", what,
				n->path, n->kind, n->mode);
			abort();
		}
	}
}

static void must_say(int rc, const struct sl_err *err)
{
	if (rc && !err->msg[0])
		abort();
}

static void setup_run(char *root, char *blobs, char *img, char *dst, char *dst2, char *outside)
{
	const size_t cap = 4200;
	snprintf(root, cap, "%s/r%lu", base, run);
	snprintf(outside, cap, "%s/outside", root);
	snprintf(img, cap, "%s/ws", root);
	snprintf(blobs, cap, "%s/blobs", root);
	snprintf(dst, cap, "%s/dst", root);
	snprintf(dst2, cap, "%s/dst2", root);
	char keep[4300], d[4300];
	snprintf(keep, sizeof(keep), "%s/keep", outside);
	snprintf(d, sizeof(d), "%s/d", outside);
	if (mkdir(root, 0700) || mkdir(outside, 0755) || mkdir(d, 0755) || mkdir(img, 0755) ||
	    mkdir(blobs, 0700) || mkdir(dst, 0755) || mkdir(dst2, 0755))
		abort();
	int fd = open(keep, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, "keep\n", 5) != 5)
		abort();
	close(fd);
	chmod(keep, 0644);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ready < 0 || size > 4096)
		return 0;
	if (!ready)
		LLVMFuzzerInitialize(&(int){ 0 }, &(char **){ NULL });
	if (ready < 0)
		return 0;
	umask(0);
	static char root[4200], blobs[4200], img[4200], dst[4200], dst2[4200], outside[4200];
	run++;
	setup_run(root, blobs, img, dst, dst2, outside);
	struct in in = { data, size };
	struct sl_err err = { 0 };
	struct ws_list man = { 0 }, pre = { 0 }, after = { 0 }, back = { 0 }, cur = { 0 };

	int tfd = open(img, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0)
		abort();
	int more = build(&in, tfd, outside);
	/* lock: the manifest with every file's bytes as blobs */
	int rc = ws__snapshot(img, blobs, 0, &man, NULL, &err);
	must_say(rc, &err);
	if (!rc && more)
		build(&in, tfd, outside); /* the sandbox's changes */
	check_outside(outside);
	if (!rc) {
		/* rollback of a lock: every manifest entry recreated from blobs
		 * (first: the image restore moves unchanged blobs back) */
		memset(&err, 0, sizeof(err));
		rc = ws__restore_manifest(dst2, blobs, &man, &err);
		must_say(rc, &err);
		check_outside(outside);
		if (!rc && !ws__snapshot(dst2, NULL, 0, &back, NULL, &err)) {
			for (size_t i = 0; i < man.n; i++) {
				const struct ws_node *m = &man.v[i];
				const struct ws_node *b = ws__list_find(&back, m->path);
				if (m->kind == WS_K_FILE && (!b || strcmp(b->sha, m->sha))) {
					fprintf(stderr, "fuzz_workspace: rollback lost %s\n", m->path);
					abort();
				}
			}
		}
		/* unlock of an image: scan, then restore into a fresh tree */
		int dfd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		memset(&err, 0, sizeof(err));
		struct ws_notes notes = { 0 };
		struct ws_modes modes = { 0 };
		rc = ws__scan_image(img, &pre, &notes, NULL, &err);
		must_say(rc, &err);
		if (!rc) {
			rc = ws__restore_image_tree(tfd, dfd, &pre, &man, blobs, 0, &notes, &modes,
						    NULL, &err);
			must_say(rc, &err);
		}
		ws__modes_apply(dfd, &modes);
		ws__modes_free(&modes);
		close(dfd);
		check_outside(outside);
		if (!rc) {
			rc = ws__snapshot(dst, NULL, 0, &after, NULL, &err);
			must_say(rc, &err);
			check_clean(&after, "image restore");
			for (size_t i = 0; i < after.n; i++) {
				const struct ws_node *a = &after.v[i];
				const struct ws_node *p = ws__list_find(&pre, a->path);
				if (a->kind == WS_K_FILE && p && p->kind == WS_K_FILE &&
				    strcmp(a->sha, p->sha)) {
					fprintf(stderr, "fuzz_workspace: %s restored with other bytes\n",
						a->path);
					abort();
				}
			}
		}
		/* the directory strategy: sanitise the changed tree in place */
		memset(&err, 0, sizeof(err));
		struct ws_modes smodes = { 0 };
		rc = ws__sanitize_walk(img, &cur, &notes, &smodes, NULL, &err);
		must_say(rc, &err);
		ws__modes_free(&smodes);
		ws__notes_free(&notes);
		check_outside(outside);
		/* what is on disk afterwards (cur lists what was found, flagged) */
		ws__list_free(&after);
		if (!rc && !ws__snapshot(img, NULL, 0, &after, NULL, &err))
			check_clean(&after, "sanitising walk");
	}
	close(tfd);
	ws__list_free(&man);
	ws__list_free(&pre);
	ws__list_free(&after);
	ws__list_free(&back);
	ws__list_free(&cur);
	int bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char name[32];
	snprintf(name, sizeof(name), "r%lu", run);
	if (bfd >= 0) {
		ws__rm_at(bfd, name);
		close(bfd);
	}
	return 0;
}

__attribute__((destructor)) static void fuzz_workspace_done(void)
{
	if (ready > 0)
		cleanup();
}
