/*
 * The application of the QEMU tier's test image (built static and put into an OCI layout beside
 * busybox). Commands:
 *
 *   probe pcrs N...                 asks /dev/nsm DescribePCR for each index and prints
 *                                   "PCR<n> <96 hex digits>" per line
 *   probe send CID PORT TEXT        connects over vsock, writes TEXT and a newline, reads one line
 *                                   back and prints "reply: <that line>"
 *   probe echo PORT                 listens on vsock PORT, accepts one connection, reads one line
 *                                   and writes back "echo: " and that line, then closes
 *
 * Lines, not half-closes, end each message: a half-close does not always cross vhost-device-vsock.
 *
 * Exit status 0 on success, 1 with a message on stderr otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

struct nsm_iovec {
  uint64_t addr;
  uint64_t len;
};
struct nsm_raw {
  struct nsm_iovec request;
  struct nsm_iovec response;
};
#define NSM_IOCTL_RAW _IOWR(0x0A, 0, struct nsm_raw)
#define NSM_RESPONSE_MAX 0x3000

static int fail(const char *what) {
  fprintf(stderr, "probe: %s: %s\n", what, strerror(errno));
  return 1;
}

static int describe_pcr(int nsm, unsigned index) {
  /* {"DescribePCR": {"index": index}} */
  uint8_t request[32];
  size_t n = 0;
  request[n++] = 0xa1;
  request[n++] = 0x60 + 11;
  memcpy(request + n, "DescribePCR", 11);
  n += 11;
  request[n++] = 0xa1;
  request[n++] = 0x60 + 5;
  memcpy(request + n, "index", 5);
  n += 5;
  if (index < 24) request[n++] = (uint8_t)index;
  else {
    request[n++] = 0x18;
    request[n++] = (uint8_t)index;
  }
  static uint8_t response[NSM_RESPONSE_MAX];
  struct nsm_raw raw = {{(uintptr_t)request, n}, {(uintptr_t)response, sizeof response}};
  if (ioctl(nsm, NSM_IOCTL_RAW, &raw) != 0) return fail("DescribePCR ioctl");
  /* The PCR is the one 48-byte byte string of the answer: 0x58 0x30 and 48 bytes. */
  for (size_t i = 0; i + 2 + 48 <= raw.response.len; i++) {
    if (response[i] == 0x58 && response[i + 1] == 0x30) {
      printf("PCR%u ", index);
      for (size_t k = 0; k < 48; k++) printf("%02x", response[i + 2 + k]);
      printf("\n");
      return 0;
    }
  }
  errno = EPROTO;
  return fail("DescribePCR answer without a 48-byte value");
}

/* Reads up to a newline (not kept) or the end; NUL-terminates; (size_t)-1 on an error. */
static size_t read_line(int fd, char *buf, size_t size) {
  size_t used = 0;
  while (used < size - 1) {
    ssize_t r = read(fd, buf + used, 1);
    if (r < 0) return (size_t)-1;
    if (r == 0 || buf[used] == '\n') break;
    used++;
  }
  buf[used] = 0;
  return used;
}

static int vsock_socket(void) { return socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0); }

static int send_text(unsigned cid, unsigned port, const char *text) {
  int fd = vsock_socket();
  if (fd < 0) return fail("socket");
  struct sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port};
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) return fail("connect");
  size_t len = strlen(text);
  if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1) return fail("write");
  char buf[4096];
  size_t used = read_line(fd, buf, sizeof buf);
  if (used == (size_t)-1) return fail("read");
  printf("reply: %s\n", buf);
  close(fd);
  return 0;
}

static int echo_once(unsigned port) {
  int fd = vsock_socket();
  if (fd < 0) return fail("socket");
  struct sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port};
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 1) != 0) return fail("listen");
  printf("listening on vsock port %u\n", port);
  fflush(stdout);
  int c = accept(fd, NULL, NULL);
  if (c < 0) return fail("accept");
  char buf[4096];
  size_t used = read_line(c, buf, sizeof buf);
  if (used == (size_t)-1) return fail("read");
  buf[used++] = '\n';
  if (write(c, "echo: ", 6) != 6 || write(c, buf, used) != (ssize_t)used) return fail("write");
  close(c);
  printf("echoed on vsock port %u\n", port);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 3 && strcmp(argv[1], "pcrs") == 0) {
    int nsm = open("/dev/nsm", O_RDWR | O_CLOEXEC);
    if (nsm < 0) return fail("open /dev/nsm");
    for (int i = 2; i < argc; i++)
      if (describe_pcr(nsm, (unsigned)strtoul(argv[i], NULL, 10)) != 0) return 1;
    return 0;
  }
  if (argc == 5 && strcmp(argv[1], "send") == 0)
    return send_text((unsigned)strtoul(argv[2], NULL, 10), (unsigned)strtoul(argv[3], NULL, 10), argv[4]);
  if (argc == 3 && strcmp(argv[1], "echo") == 0) return echo_once((unsigned)strtoul(argv[2], NULL, 10));
  fprintf(stderr, "usage: probe pcrs N... | probe send CID PORT TEXT | probe echo PORT\n");
  return 2;
}
