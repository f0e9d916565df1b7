/*
 * The enclave bootstrap init of the QEMU backend's blobs: PID 1 of an enclave image built with
 * `nitro-dev build-enclave --blobs <qemu cache>/blobs`. It does what an enclave's init does, in
 * this order (EIF spec, "How init consumes them at boot"):
 *
 *   1. mounts /dev (devtmpfs), /proc and /sys of the initramfs;
 *   2. loads /nsm.ko with finit_module when it is not empty, and removes it (the QEMU cache's
 *      kernel has the NSM driver built in, so its nsm.ko is empty);
 *   3. says "booted" to the parent: connects over vsock to CID 3 port 9000, writes 0xB7 and
 *      expects the same byte back;
 *   4. reads /env and /cmd line by line (one element per line, the trailing newline stripped,
 *      no quoting) and removes both;
 *   5. moves /rootfs over /, chroots into it, mounts /proc, /sys, /dev, /tmp and /run there;
 *   6. starts the command (argv[0] looked up in a fixed PATH) with that environment in its own
 *      session, reaps every orphan, and when the command ends powers the enclave off.
 *
 * Any failure before the command starts is printed on the console and ends the enclave.
 * Built static: gcc -static -Os -o init init.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define PARENT_CID 3
#define HEARTBEAT_PORT 9000
#define HEARTBEAT_BYTE 0xB7
#define MAX_FILE_BYTES (1024 * 1024)
#define MAX_LINES 4096
#define LOOKUP_PATH "/sbin:/usr/sbin:/bin:/usr/bin"

static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "init: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
}

static void power_off(void) {
  sync();
  reboot(RB_AUTOBOOT); /* the kernel's reboot=k / QEMU's -no-reboot end the enclave */
  for (;;) pause();
}

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "init: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, " (errno %d: %s)\n", errno, strerror(errno));
  va_end(ap);
  power_off();
}

static void mount_one(const char *source, const char *target, const char *type, unsigned long flags,
                      const char *data, int required) {
  mkdir(target, 0755);
  if (mount(source, target, type, flags, data) != 0 && errno != EBUSY) {
    if (required) die("cannot mount %s on %s", type, target);
    say("cannot mount %s on %s: %s (going on)", type, target, strerror(errno));
  }
}

static void load_nsm_driver(void) {
  int fd = open("/nsm.ko", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return; /* absent: nothing to load */
  struct stat st;
  if (fstat(fd, &st) == 0 && st.st_size > 0) {
    if (syscall(SYS_finit_module, fd, "", 0) != 0) die("cannot load /nsm.ko");
  }
  close(fd);
  unlink("/nsm.ko");
}

static void heartbeat(void) {
  int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("no vsock (AF_VSOCK) in this kernel");
  struct sockaddr_vm addr;
  memset(&addr, 0, sizeof addr);
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = PARENT_CID;
  addr.svm_port = HEARTBEAT_PORT;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
    die("heartbeat: cannot connect to vsock %d:%d", PARENT_CID, HEARTBEAT_PORT);
  unsigned char byte = HEARTBEAT_BYTE;
  if (write(fd, &byte, 1) != 1) die("heartbeat: cannot write");
  unsigned char back = 0;
  if (read(fd, &back, 1) != 1) die("heartbeat: no answer");
  if (back != HEARTBEAT_BYTE) {
    errno = EPROTO;
    die("heartbeat: the parent answered 0x%02x", back);
  }
  close(fd);
}

/* Reads a file of lines into a NULL-terminated array; the file is removed. */
static char **read_lines(const char *file) {
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("cannot open %s", file);
  char *text = malloc(MAX_FILE_BYTES + 1);
  if (!text) die("out of memory");
  size_t used = 0;
  for (;;) {
    ssize_t n = read(fd, text + used, MAX_FILE_BYTES - used);
    if (n < 0) die("cannot read %s", file);
    if (n == 0) break;
    used += (size_t)n;
    if (used == MAX_FILE_BYTES) {
      errno = EFBIG;
      die("%s is larger than %d bytes", file, MAX_FILE_BYTES);
    }
  }
  close(fd);
  unlink(file);
  text[used] = 0;
  char **lines = calloc(MAX_LINES + 1, sizeof(char *));
  if (!lines) die("out of memory");
  size_t count = 0;
  char *p = text;
  while (*p) {
    if (count == MAX_LINES) {
      errno = E2BIG;
      die("%s has more than %d lines", file, MAX_LINES);
    }
    char *nl = strchr(p, '\n');
    lines[count++] = p;
    if (!nl) break;
    *nl = 0;
    p = nl + 1;
  }
  lines[count] = NULL;
  return lines;
}

static void enter_rootfs(void) {
  if (mount("/rootfs", "/rootfs", NULL, MS_BIND | MS_REC, NULL) != 0) die("cannot bind /rootfs");
  if (chdir("/rootfs") != 0) die("cannot enter /rootfs");
  if (mount(".", "/", NULL, MS_MOVE, NULL) != 0) die("cannot move /rootfs over /");
  if (chroot(".") != 0) die("cannot chroot into the root file system");
  if (chdir("/") != 0) die("cannot enter /");
  mount_one("proc", "/proc", "proc", MS_NODEV | MS_NOSUID | MS_NOEXEC, NULL, 1);
  mount_one("sysfs", "/sys", "sysfs", MS_NODEV | MS_NOSUID | MS_NOEXEC, NULL, 0);
  mount_one("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, NULL, 1);
  mount_one("tmpfs", "/tmp", "tmpfs", MS_NODEV | MS_NOSUID, NULL, 0);
  mount_one("tmpfs", "/run", "tmpfs", MS_NODEV | MS_NOSUID, NULL, 0);
}

int main(void) {
  mount_one("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, NULL, 1);
  mount_one("proc", "/proc", "proc", MS_NODEV | MS_NOSUID | MS_NOEXEC, NULL, 1);
  mount_one("sysfs", "/sys", "sysfs", MS_NODEV | MS_NOSUID | MS_NOEXEC, NULL, 0);
  load_nsm_driver();
  heartbeat();
  char **env = read_lines("/env");
  char **argv = read_lines("/cmd");
  if (!argv[0] || !argv[0][0]) {
    errno = EINVAL;
    die("/cmd names no command");
  }
  enter_rootfs();
  setenv("PATH", LOOKUP_PATH, 1); /* where execvpe looks argv[0] up (the command's own env is env) */
  pid_t child = fork();
  if (child < 0) die("cannot fork");
  if (child == 0) {
    setsid();
    execvpe(argv[0], argv, env);
    say("cannot run %s: %s", argv[0], strerror(errno));
    _exit(127);
  }
  for (;;) {
    int status = 0;
    pid_t done = wait(&status);
    if (done < 0 && errno == EINTR) continue;
    if (done < 0 || done == child) {
      if (done == child) {
        if (WIFEXITED(status)) say("%s exited with status %d", argv[0], WEXITSTATUS(status));
        else if (WIFSIGNALED(status)) say("%s was killed by signal %d", argv[0], WTERMSIG(status));
      }
      power_off();
    }
  }
}
