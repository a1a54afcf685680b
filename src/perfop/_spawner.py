"""perfop's process spawner: a tiny, long-lived helper that starts measured processes.

Run as ``python -S -E -s _spawner.py FD``. It imports nothing from perfop and only builtin C
modules (no ``re``, ``enum``, ``json``), so its resident set stays small on purpose: Linux charges
the spawning process's resident high-water mark to the child's peak RSS (``exec`` copies it into
the child's ``ru_maxrss``), so a child spawned by perfop itself would report at least perfop's own
~60 MB. Spawned from here, the floor is this helper's few MB, below any Python program.

Protocol over a SOCK_SEQPACKET socket, ``marshal``-encoded, one message each way per step:
  request  {"argv": [...], "cwd": str, "env": {...}} with two fds attached (stdout, stderr);
           "env" is left out when it is the same as in the previous request
  reply    {"pid": int}  or  {"error": errno, "message": str}
  reply    {"status": int, "wall_ns": int, "utime": float, "stime": float, "maxrss_kb": int}
The wall time is taken here, from just before the spawn to just after the reap.
"""

import _signal  # type: ignore[import-not-found]  # no stubs; `signal` would pull in enum
import _socket
import array
import marshal
import os
import sys
import time

_RESET = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGPIPE, _signal.SIGXFSZ)
_FDS_SPACE = _socket.CMSG_SPACE(2 * array.array("i").itemsize)


def _recv(sock: _socket.socket) -> tuple[bytes, list[int]]:
    fds = array.array("i")
    msg, ancdata, _flags, _addr = sock.recvmsg(1 << 22, _FDS_SPACE, _socket.MSG_CMSG_CLOEXEC)
    for level, kind, data in ancdata:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    return msg, list(fds)


def main(fd: int) -> None:
    # Ctrl-C in the terminal is perfop's to handle; the spawned process gets default handlers.
    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    os.set_inheritable(fd, False)
    sock = _socket.socket(fileno=fd)
    devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    env: dict[str, str] = {}
    while True:
        try:
            msg, fds = _recv(sock)
        except OSError:
            return
        if not msg:
            return  # perfop went away
        req = marshal.loads(msg)
        env = req.get("env", env)  # sent only when it changes
        out_fd, err_fd = fds
        try:
            os.chdir(req["cwd"])
            actions = [
                (os.POSIX_SPAWN_DUP2, devnull, 0),
                (os.POSIX_SPAWN_DUP2, out_fd, 1),
                (os.POSIX_SPAWN_DUP2, err_fd, 2),
            ]
            start = time.perf_counter_ns()
            pid = os.posix_spawn(
                req["argv"][0],
                req["argv"],
                env,
                file_actions=actions,
                setsid=True,
                setsigdef=_RESET,
            )
        except OSError as exc:
            os.close(out_fd)
            os.close(err_fd)
            sock.send(marshal.dumps({"error": exc.errno, "message": exc.strerror or ""}))
            continue
        os.close(out_fd)
        os.close(err_fd)
        sock.send(marshal.dumps({"pid": pid}))
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter_ns() - start
        sock.send(
            marshal.dumps(
                {
                    "status": status,
                    "wall_ns": wall,
                    "utime": usage.ru_utime,
                    "stime": usage.ru_stime,
                    "maxrss_kb": usage.ru_maxrss,
                }
            )
        )


if __name__ == "__main__":
    main(int(sys.argv[1]))
