/*
 * The vsock relay of the QEMU backend's parent VM: PID 1 of a tiny VM that takes CID 3 beside an
 * enclave in one vhost-device-vsock process. An enclave connects to its parent at CID 3 (the boot
 * heartbeat on port 9000, vsock-proxy, the application's own ports); vhost-device-vsock delivers
 * such a connection only to a sibling VM of that CID, so this VM accepts it and carries it on to
 * the host (CID 2), where vhost-device-vsock hands it to the Unix socket `<uds-path>_<port>` that
 * the backend listens on and joins to the parent's vsock endpoint.
 *
 * The host drives it over one control connection (this VM connects to CID 2, port CONTROL_PORT),
 * a line per request:
 *
 *   "L <port>\n"  listen on vsock port <port>     answer "OK L <port>\n" or "ERR L <port> <reason>\n"
 *   "U <port>\n"  stop listening on <port>        answer "OK U <port>\n" or "ERR U <port> <reason>\n"
 *
 * Every accepted connection is carried by a child process that connects to CID 2 on the same port
 * and copies bytes both ways, passing a half-close on. When the control connection ends, the VM
 * powers off. Built static: gcc -static -Os -o relay relay.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define HOST_CID 2
#define CONTROL_PORT 1313428562u /* "NITR" */
#define MAX_LISTENERS 256
#define LINE_MAX_BYTES 64

static void power_off(void) {
  sync();
  reboot(RB_AUTOBOOT);
  for (;;) pause();
}

static int vsock_connect(unsigned cid, unsigned port) {
  int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_vm addr;
  memset(&addr, 0, sizeof addr);
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = cid;
  addr.svm_port = port;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

static int vsock_listen(unsigned port) {
  int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_vm addr;
  memset(&addr, 0, sizeof addr);
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = VMADDR_CID_ANY;
  addr.svm_port = port;
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 64) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/*
 * Copies bytes between the enclave's connection (a) and the host's (b). vhost-device-vsock carries
 * no half-close to the host (it ends a connection only when both ways are shut), so when the enclave
 * ends its side the whole connection ends here; when the host ends its side, the enclave is told
 * with a half-close and may still finish reading.
 */
static void pump(int a, int b) {
  int fds[2] = {a, b};
  int open_in[2] = {1, 1};
  char buf[65536];
  while (open_in[0] || open_in[1]) {
    struct pollfd p[2];
    int count = 0, which[2];
    for (int i = 0; i < 2; i++)
      if (open_in[i]) {
        p[count].fd = fds[i];
        p[count].events = POLLIN;
        p[count].revents = 0;
        which[count++] = i;
      }
    if (poll(p, (nfds_t)count, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int k = 0; k < count; k++) {
      if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      int i = which[k];
      ssize_t n = read(fds[i], buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        open_in[i] = 0;
        shutdown(fds[1 - i], SHUT_WR);
        if (n < 0 || i == 0) return;
        continue;
      }
      if (write_all(fds[1 - i], buf, (size_t)n) != 0) return;
    }
  }
}

struct listener {
  unsigned port;
  int fd;
};

static struct listener listeners[MAX_LISTENERS];
static int listener_count = 0;

static void answer(int control, const char *verdict, char op, unsigned port, const char *reason) {
  char line[160];
  int n = reason ? snprintf(line, sizeof line, "%s %c %u %s\n", verdict, op, port, reason)
                 : snprintf(line, sizeof line, "%s %c %u\n", verdict, op, port);
  if (write_all(control, line, (size_t)n) != 0) power_off();
}

static void request(int control, const char *line) {
  char op = 0;
  unsigned port = 0;
  char extra = 0;
  if (sscanf(line, "%c %u%c", &op, &port, &extra) != 2 || (op != 'L' && op != 'U')) {
    answer(control, "ERR", '?', 0, "not a request");
    return;
  }
  int at = -1;
  for (int i = 0; i < listener_count; i++)
    if (listeners[i].port == port) at = i;
  if (op == 'L') {
    if (at >= 0) return answer(control, "OK", 'L', port, NULL);
    if (listener_count == MAX_LISTENERS) return answer(control, "ERR", 'L', port, "too many ports");
    int fd = vsock_listen(port);
    if (fd < 0) return answer(control, "ERR", 'L', port, strerror(errno));
    listeners[listener_count].port = port;
    listeners[listener_count].fd = fd;
    listener_count++;
    return answer(control, "OK", 'L', port, NULL);
  }
  if (at < 0) return answer(control, "OK", 'U', port, NULL);
  close(listeners[at].fd);
  listeners[at] = listeners[--listener_count];
  answer(control, "OK", 'U', port, NULL);
}

static void carry(int accepted, unsigned port, int control) {
  pid_t child = fork();
  if (child != 0) {
    close(accepted);
    return;
  }
  close(control);
  for (int i = 0; i < listener_count; i++) close(listeners[i].fd);
  int host = vsock_connect(HOST_CID, port);
  if (host < 0) _exit(1); /* closing `accepted` refuses the enclave's connection */
  pump(accepted, host);
  _exit(0);
}

int main(void) {
  mkdir("/dev", 0755);
  mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  mkdir("/proc", 0755);
  mount("proc", "/proc", "proc", 0, NULL);
  struct sigaction ignore;
  memset(&ignore, 0, sizeof ignore);
  ignore.sa_handler = SIG_IGN;
  ignore.sa_flags = SA_NOCLDWAIT; /* children are reaped by the kernel */
  sigaction(SIGCHLD, &ignore, NULL);
  signal(SIGPIPE, SIG_IGN);

  int control = -1;
  for (int attempt = 0; control < 0; attempt++) {
    control = vsock_connect(HOST_CID, CONTROL_PORT);
    if (control < 0) {
      if (attempt == 600) {
        fprintf(stderr, "relay: no control connection from the host: %s\n", strerror(errno));
        power_off();
      }
      usleep(100000);
    }
  }
  fprintf(stderr, "relay: ready\n");
  char line[LINE_MAX_BYTES];
  size_t used = 0;
  for (;;) {
    struct pollfd p[MAX_LISTENERS + 1];
    p[0].fd = control;
    p[0].events = POLLIN;
    for (int i = 0; i < listener_count; i++) {
      p[i + 1].fd = listeners[i].fd;
      p[i + 1].events = POLLIN;
    }
    int count = listener_count;
    if (poll(p, (nfds_t)count + 1, -1) < 0) {
      if (errno == EINTR) continue;
      power_off();
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(control, line + used, sizeof line - 1 - used);
      if (n <= 0) power_off();
      used += (size_t)n;
      line[used] = 0;
      char *nl;
      while ((nl = memchr(line, '\n', used)) != NULL) {
        *nl = 0;
        request(control, line);
        size_t rest = used - (size_t)(nl + 1 - line);
        memmove(line, nl + 1, rest);
        used = rest;
        line[used] = 0;
      }
      if (used == sizeof line - 1) power_off(); /* a line too long: not the backend talking */
    }
    for (int i = 0; i < count && i < listener_count; i++) {
      if (!(p[i + 1].revents & POLLIN) || p[i + 1].fd != listeners[i].fd) continue;
      int accepted = accept4(listeners[i].fd, NULL, NULL, SOCK_CLOEXEC);
      if (accepted >= 0) carry(accepted, listeners[i].port, control);
    }
  }
}
