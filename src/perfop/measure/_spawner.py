"""perfop's process spawner: a tiny, long-lived helper that starts measured processes.

Run as ``python -S -E -s _spawner.py FD SPIN_US``. It imports nothing from perfop and only builtin C
modules plus ``select`` (no ``re``, ``enum``, ``json``), so its resident set stays small on
purpose: Linux charges the spawning process's resident high-water mark to the child's peak RSS
(``exec`` copies it into the child's ``ru_maxrss``), so a child spawned by perfop itself would
report at least perfop's own ~60 MB. Spawned from here, the floor is this helper's few MB, below
any Python program.

Protocol over a SOCK_SEQPACKET socket, ``marshal``-encoded. One message each way per sample, so
that nothing but the measured process runs between the request and the report:
  request  {"argv": [...], "cwd": str, "env": {...}, "spin": int} with two fds attached
           (stdout, stderr); "env" is left out when it is the same as in the previous request;
           "spin" is how many microseconds to poll for the next request after this one's
           reply (perfop learns it: launch.SpinChooser)
  reply    {"pid": int, "status": int, "wall_ns": int, "utime": float, "stime": float,
            "maxrss_kb": int, "contained": bool}  once the process has been reaped,
           or {"error": errno, "message": str} when it could not be started
  kill     {"kill": True} from perfop while a process runs (timeout, Ctrl-C): the spawner kills
           its process group; the reply follows as usual. A kill that arrives after the reply
           was sent is ignored.
A batch is one request for ``count`` samples of the same command, so consecutive samples cost
no round trip each (two cross-process wake-ups, the larger part of the harness's cost on a VM):
  request  as above plus "count": int and "timeout": seconds, with 2 * count fds attached
           (stdout, stderr of each sample in turn); the spawner enforces each sample's timeout
  reply    {"batch": [(pid, status, wall_ns, utime, stime, maxrss_kb, timed_out), ...],
            "contained": bool, "stopped": bool} once the last sample has been reaped and swept,
           plus "error"/"message" when a sample could not be started (the batch ends there);
           a kill ends the batch after the running sample, which is reported with
           "stopped": true. perfop sleeps through the whole batch (unless the samples write
           output, which it drains as they run), so nothing of perfop's runs beside them.
The spawner watches the child through a pidfd and the socket together: if perfop goes away (the
socket closes), the running process group is killed at once instead of running on unobserved.
The wall time is taken here, from just before the spawn to just after the reap.

One wake-up of perfop per sample: the spawner keeps its copies of the output pipes' write ends
until the reply is sent, so the workload's exit does not wake perfop with an end-of-file first
and the reply a moment later (on a VM each wake-up is a trip through the hypervisor).
``"contained": true`` says every process of the sample is gone (reaped by this subreaper), so
whatever the pipes hold is all there will ever be: perfop reads it without waiting for an EOF.

Containment: the spawner makes itself a child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``), so
any process the sample leaves behind -- a daemon that double-forked and called ``setsid()``,
out of the process group a timeout kills -- is reparented to the spawner instead of init. After
every sample (and when perfop goes away) the spawner kills and reaps all its remaining children,
again and again until none is left; the wall time is taken before that, so it does not count.
Where ``prctl`` is unavailable only the process group is killed (docs/guide.md).
"""

import _ctypes  # the C module only: `ctypes` itself would add a few hundred kB to the RSS floor
import _signal  # type: ignore[import-not-found]  # no stubs; `signal` would pull in enum
import _socket
import array
import marshal
import os
import select
import sys
import time

_RESET = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGPIPE, _signal.SIGXFSZ)
_MAX_BATCH = 64  # samples per batch request: two fds each (launch.Spawner.MAX_BATCH)
_FDS_SPACE = _socket.CMSG_SPACE(2 * _MAX_BATCH * array.array("i").itemsize)


def _recv(sock: _socket.socket) -> tuple[bytes, list[int]]:
    fds = array.array("i")
    msg, ancdata, _flags, _addr = sock.recvmsg(1 << 22, _FDS_SPACE, _socket.MSG_CMSG_CLOEXEC)
    for level, kind, data in ancdata:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    return msg, list(fds)


def _next_request(sock: _socket.socket, spin_ns: int) -> tuple[bytes, list[int]]:
    """The next request, polling for ``spin_ns`` before sleeping in ``recvmsg``.

    perfop sends the next request tens of microseconds after a reply. Waking a sleeping process
    costs the sender an inter-processor interrupt, which on a virtual machine is a trip through
    the hypervisor (~50 us measured); staying awake that briefly avoids it for back-to-back
    samples, and a pause longer than the spin costs nothing more than one wake-up.
    """
    if spin_ns:
        sock.setblocking(False)
        try:
            until = time.perf_counter_ns() + spin_ns
            while time.perf_counter_ns() < until:
                try:
                    return _recv(sock)
                except BlockingIOError:
                    os.sched_yield()  # perfop may be waiting for this very CPU: let it run
        finally:
            sock.setblocking(True)
    return _recv(sock)


PR_SET_CHILD_SUBREAPER = 36
_SWEEP_ROUNDS = 10_000  # a fork bomb still ends: every round kills all the children it finds


def _become_subreaper() -> bool:
    """Make orphans of the samples this process's children (Linux >= 3.4); False if not possible."""

    class _Int(_ctypes._SimpleCData):  # type: ignore[type-arg]
        _type_ = "i"

    class _Fn(_ctypes.CFuncPtr):
        _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
        _restype_ = _Int

    class _Libc:
        _handle = _ctypes.dlopen(None)  # type: ignore[arg-type]  # None: the program itself

    try:
        prctl = _Fn(("prctl", _Libc()))  # type: ignore[arg-type]  # anything with a _handle
        return bool(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _children() -> list[int]:
    """This process's children: /proc's children list, or a scan of /proc when it is missing."""
    me = os.getpid()
    try:
        # Read after every sample: raw open/read/close, three system calls (a file object
        # takes twice as many, each costly on a VM).
        fd = os.open(f"/proc/self/task/{me}/children", os.O_RDONLY | os.O_CLOEXEC)
        try:
            data = b""
            while chunk := os.read(fd, 1 << 16):
                data += chunk
        finally:
            os.close(fd)
        return [int(p) for p in data.split()]
    except OSError:
        pass
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == me:
            kids.append(int(entry))
    return kids


def _sweep() -> None:
    """Kill and reap every process left behind (children, and orphans reparented to us)."""
    for _ in range(_SWEEP_ROUNDS):
        kids = _children()
        if not kids:
            return
        for kid in kids:
            try:  # noqa: SIM105
                os.kill(kid, _signal.SIGKILL)
            except OSError:
                pass
            _killpg(kid)
        for kid in kids:
            try:  # noqa: SIM105
                os.waitpid(kid, 0)
            except OSError:
                pass


def _killpg(pid: int) -> None:
    try:  # noqa: SIM105 - contextlib would cost this process its small footprint
        os.killpg(pid, _signal.SIGKILL)
    except OSError:
        pass


def _watch(sock: _socket.socket, pid: int, deadline_ns: int = 0) -> tuple[bool, bool, bool]:
    """Block until ``pid`` has exited, killing its group on request or at ``deadline_ns``
    (``perf_counter_ns``; 0: none). Returns (perfop still there, a kill was asked, timed out)."""
    pidfd = os.pidfd_open(pid)
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        poller.register(sock.fileno(), select.POLLIN)
        alive, asked, timed_out = True, False, False
        while True:
            wait_ms = None
            if deadline_ns and not timed_out:
                wait_ms = max(0, (deadline_ns - time.perf_counter_ns()) // 1_000_000 + 1)
            events = poller.poll(wait_ms)
            if not events and wait_ms is not None:
                timed_out = True
                _killpg(pid)
            for fd, _event in events:
                if fd == pidfd:
                    return alive, asked, timed_out
                try:
                    msg, fds = _recv(sock)
                except OSError:
                    msg, fds = b"", []
                for extra in fds:
                    os.close(extra)
                if not msg:  # perfop went away: the measurement is over, so is the process
                    alive = False
                    poller.unregister(sock.fileno())
                asked = True
                _killpg(pid)
    finally:
        os.close(pidfd)


def _batch(
    sock: _socket.socket,
    batch: tuple[list[str], str, int, float],
    env: dict[str, str],
    fds: list[int],
    devnull: int,
    subreaper: bool,
) -> bool:
    """Run ``count`` samples of ``argv`` in ``cwd`` back to back (each within ``timeout``
    seconds) and send one reply; False if perfop went away.

    Each sample is spawned, watched, reaped and swept exactly as a single one is; its pipes'
    write ends stay open until the reply is sent (no end-of-file wakes perfop before it)."""
    argv, cwd, count, timeout = batch
    timeout_ns = int(timeout * 1e9)
    reports = []
    reply: dict[str, object] = {"contained": subreaper, "stopped": False}
    try:
        os.chdir(cwd)
        for i in range(min(count, len(fds) // 2)):
            actions = [
                (os.POSIX_SPAWN_DUP2, devnull, 0),
                (os.POSIX_SPAWN_DUP2, fds[2 * i], 1),
                (os.POSIX_SPAWN_DUP2, fds[2 * i + 1], 2),
            ]
            start = time.perf_counter_ns()
            try:
                pid = os.posix_spawn(
                    argv[0], argv, env, file_actions=actions, setsid=True, setsigdef=_RESET
                )
            except OSError as exc:
                reply["error"], reply["message"] = exc.errno, exc.strerror or ""
                break
            connected, asked, timed_out = _watch(sock, pid, start + timeout_ns)
            _, status, usage = os.wait4(pid, 0)
            wall = time.perf_counter_ns() - start
            _sweep()
            if not connected:
                return False
            reports.append(
                (pid, status, wall, usage.ru_utime, usage.ru_stime, usage.ru_maxrss, timed_out)
            )
            if asked:  # Ctrl-C or a timeout of perfop's own: no further sample
                reply["stopped"] = True
                break
    except OSError as exc:  # the working directory is gone
        reply["error"], reply["message"] = exc.errno, exc.strerror or ""
    reply["batch"] = reports
    try:
        sock.send(marshal.dumps(reply))
    finally:
        for fd in fds:
            os.close(fd)
    return True


def main(fd: int, spin_us: int) -> None:
    # Ctrl-C in the terminal is perfop's to handle; the spawned process gets default handlers.
    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    subreaper = _become_subreaper()
    os.set_inheritable(fd, False)
    sock = _socket.socket(fileno=fd)
    devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    env: dict[str, str] = {}
    spin_ns = 0  # no sample yet: nothing to expect soon
    while True:
        try:
            msg, fds = _next_request(sock, spin_ns)
        except OSError:
            return
        if not msg:
            return  # perfop went away
        req = marshal.loads(msg)
        if "argv" not in req:
            for extra in fds:
                os.close(extra)
            continue  # a kill request that crossed the reply of a process already reaped
        env = req.get("env", env)  # sent only when it changes
        if "count" in req:
            spin_ns = int(req.get("spin", spin_us)) * 1000
            batch = (req["argv"], req["cwd"], int(req["count"]), float(req["timeout"]))
            if not _batch(sock, batch, env, fds, devnull, subreaper):
                return
            continue
        out_fd, err_fd = fds
        try:
            os.chdir(req["cwd"])  # every time: a directory may be recreated at the same path
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
        spin_ns = int(req.get("spin", spin_us)) * 1000
        connected = _watch(sock, pid)[0]
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter_ns() - start
        _sweep()
        if not connected:
            return
        try:
            sock.send(
                marshal.dumps(
                    {
                        "pid": pid,
                        "status": status,
                        "wall_ns": wall,
                        "utime": usage.ru_utime,
                        "stime": usage.ru_stime,
                        "maxrss_kb": usage.ru_maxrss,
                        "contained": subreaper,
                    }
                )
            )
        finally:
            # Only now: closing them earlier would wake perfop with an EOF before the reply.
            os.close(out_fd)
            os.close(err_fd)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
