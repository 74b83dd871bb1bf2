#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Minimal client of the cmis_fw generic netlink family, for the selftests.

  cmis_fw_client.py flash DEV FILE [--password N] [--timeout S]
                    [--index N] [--flags N] [--no-header] [--no-file]
  cmis_fw_client.py monitor [--count N] [--timeout S]
  cmis_fw_client.py handover DEV FILE [--timeout S]
  cmis_fw_client.py fuzz DEV FILE [--count N] [--seed N]
  cmis_fw_client.py request DEV COMMAND [--attr T:HEX] [--dump]
                    [--fail-nth N | --each-allocation [--stride K]]
  cmis_fw_client.py each-request DEV FILE --dir DIR --errno E [--stride K]

flash sends MODULE_FW_FLASH_ACT and prints every notification the kernel
sends back, one line each:

  status=STARTED done=0 total=0
  status=IN_PROGRESS done=2112 total=4064
  status=COMPLETED done=4064 total=4064
  status=ERROR done=0 total=0 msg=...

then exits 0 on COMPLETED, 1 on ERROR, 2 if the request was refused
(prints "error: <errno name>: <extack message>", then " [missing
attribute N]" or " [bad attribute at offset N]" where the extack names
one), 3 on timeout. After the outcome it asks the genetlink controller
once and prints the notifications that arrive before the answer: a
second terminal one shows as a second status line (the tests count
them). --index adds the device's ifindex N to the header
(DEV "-" leaves the name out), --flags adds header flags, --no-header and
--no-file leave those attributes out: malformed requests for the tests.
--repeat N sends the request again the moment COMPLETED arrives, N times
in all: the device must be free by then.
monitor joins the "monitor" multicast group and prints notifications of
every flash (prefixed with the device), until COUNT terminal ones or the
timeout. handover closes the requesting socket once the flash started and
binds a new one to its port: it exits 0 if the flash ended (as the
monitor group hears) and no notification reached the new socket. fuzz
sends COUNT random and mutated requests (a valid one for DEV and FILE
with bytes changed, random attribute trees, random bytes; now and then
another command, version or NLM_F_DUMP) and exits 0 if each was
answered, printing the outcomes by errno. request sends any other
command of the family (see request()); each-request fails each module
access of a flash in turn (see each_request()). Only the Python standard library is used: the test guest has no
pip packages.
"""

import argparse
import contextlib
import errno
import io
import os
import re
import select
import signal
import socket
import struct
import sys
import time

NETLINK_GENERIC = 16
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11

NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_CAPPED = 0x100
NLM_F_ACK_TLVS = 0x200
NLMSGERR_ATTR_MSG = 1
NLMSGERR_ATTR_OFFS = 2
NLMSGERR_ATTR_MISS_TYPE = 5
NLA_F_NESTED = 0x8000

GENL_ID_CTRL = 0x10
# Genl.messages(): SIGUSR1 came (probe_on_signal); no netlink type.
WAKE = -1
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
CTRL_ATTR_MCAST_GROUPS = 7
CTRL_ATTR_MCAST_GRP_NAME = 1
CTRL_ATTR_MCAST_GRP_ID = 2

# ethtool's MODULE_FW_FLASH numbering, which cmis_fw shares.
MSG_FLASH = 44
A_HEADER, A_FILE_NAME, A_PASSWORD = 1, 2, 3
A_STATUS, A_STATUS_MSG, A_DONE, A_TOTAL = 4, 5, 6, 7
A_HEADER_DEV_INDEX, A_HEADER_DEV_NAME, A_HEADER_FLAGS = 1, 2, 3
STATUS = {1: "STARTED", 2: "IN_PROGRESS", 3: "COMPLETED", 4: "ERROR"}


def attr(kind, payload):
    hdr = struct.pack("=HH", 4 + len(payload), kind)
    return hdr + payload + b"\0" * (-len(payload) % 4)


def attr_str(kind, s):
    return attr(kind, s.encode() + b"\0")


def parse_attrs(data):
    out = {}
    while len(data) >= 4:
        length, kind = struct.unpack_from("=HH", data)
        if length < 4:
            break
        out[kind & 0x3FFF] = data[4:length]
        data = data[(length + 3) & ~3:]
    return out


def uint(payload):
    return int.from_bytes(payload, sys.byteorder)


class Genl:
    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self.sock.bind((0, 0))
        self.sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        self.sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        self.seq = int(time.time())
        # A pipe the SIGUSR1 handler writes to (probe_on_signal).
        self.wake = None

    def probe_on_signal(self):
        """From now on SIGUSR1 makes messages() yield (WAKE, 0, 0, b"")."""
        r, w = os.pipe()
        os.set_blocking(w, False)
        signal.set_wakeup_fd(w)
        signal.signal(signal.SIGUSR1, lambda *_: None)
        self.wake = r

    def send(self, family, cmd, attrs, flags=NLM_F_REQUEST | NLM_F_ACK, version=1):
        self.seq += 1
        body = struct.pack("=BBH", cmd, version, 0) + attrs
        hdr = struct.pack("=IHHII", 16 + len(body), family, flags, self.seq, 0)
        self.sock.send(hdr + body)
        return self.seq

    def messages(self, timeout, tell_lost=False):
        """Yields (type, flags, seq, payload) until the timeout; with
        tell_lost, (None, 0, 0, b"") where a message was lost."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            fds = [self.sock] + ([self.wake] if self.wake is not None else [])
            r, _, _ = select.select(fds, [], [], left)
            if not r:
                return
            if self.wake in r:
                os.read(self.wake, 64)
                yield WAKE, 0, 0, b""
                if self.sock not in r:
                    continue
            try:
                data = self.sock.recv(65536)
            except OSError as e:
                if e.errno != errno.ENOBUFS:
                    raise
                # A message to this socket was lost (the kernel could not
                # allocate it, e.g. the ack of a request, or the buffer
                # overran); those after it still come, as the flash's
                # notifications do.
                print("lost a message (ENOBUFS)", flush=True)
                if tell_lost:
                    yield None, 0, 0, b""
                continue
            while len(data) >= 16:
                length, kind, flags, seq, _ = struct.unpack_from("=IHHII", data)
                if length < 16:
                    break
                yield kind, flags, seq, data[16:length]
                data = data[(length + 3) & ~3:]

    @staticmethod
    def error(flags, payload):
        """(errno, extack message) of an NLMSG_ERROR payload."""
        code = -struct.unpack_from("=i", payload)[0]
        msg = ""
        if flags & NLM_F_ACK_TLVS:
            # The capped original request header follows the error code.
            off = 4 + 16
            if not flags & NLM_F_CAPPED:
                off = 4 + struct.unpack_from("=I", payload, 4)[0]
            tlvs = parse_attrs(payload[off:])
            if NLMSGERR_ATTR_MSG in tlvs:
                msg = tlvs[NLMSGERR_ATTR_MSG].rstrip(b"\0").decode()
            if NLMSGERR_ATTR_MISS_TYPE in tlvs:
                msg += f" [missing attribute {uint(tlvs[NLMSGERR_ATTR_MISS_TYPE])}]"
            if NLMSGERR_ATTR_OFFS in tlvs:
                msg += f" [bad attribute at offset {uint(tlvs[NLMSGERR_ATTR_OFFS])}]"
        return code, msg

    def resolve(self, name):
        """Family id and multicast groups of `name`."""
        seq = self.send(GENL_ID_CTRL, CTRL_CMD_GETFAMILY,
                        attr_str(CTRL_ATTR_FAMILY_NAME, name))
        for kind, flags, rseq, payload in self.messages(5):
            if rseq != seq:
                continue
            if kind == NLMSG_ERROR:
                code, msg = self.error(flags, payload)
                if code:
                    raise OSError(code, f"family {name}: {msg or os.strerror(code)}")
                continue
            attrs = parse_attrs(payload[4:])
            groups = {}
            for g in parse_attrs(attrs.get(CTRL_ATTR_MCAST_GROUPS, b"")).values():
                ga = parse_attrs(g)
                groups[ga[CTRL_ATTR_MCAST_GRP_NAME].rstrip(b"\0").decode()] = uint(
                    ga[CTRL_ATTR_MCAST_GRP_ID])
            return uint(attrs[CTRL_ATTR_FAMILY_ID]), groups
        raise OSError(errno.ETIMEDOUT, "no reply from the genetlink controller")


def describe(payload):
    """(status name, line) of a notification's genetlink payload."""
    attrs = parse_attrs(payload[4:])
    status = STATUS.get(uint(attrs.get(A_STATUS, b"\0\0\0\0")), "?")
    header = parse_attrs(attrs.get(A_HEADER, b""))
    dev = header.get(A_HEADER_DEV_NAME, b"?").rstrip(b"\0").decode()
    line = (f"status={status} done={uint(attrs.get(A_DONE, b''))} "
            f"total={uint(attrs.get(A_TOTAL, b''))}")
    if A_STATUS_MSG in attrs:
        line += " msg=" + attrs[A_STATUS_MSG].rstrip(b"\0").decode()
    return status, dev, line


def raw_attr(s):
    """TYPE:HEX, the type in any base, the payload in hex (may be empty)."""
    kind, _, payload = s.partition(":")
    return int(kind, 0), bytes.fromhex(payload)


def flash(args, family):
    nl = Genl()
    fid, _ = nl.resolve(family)
    fields = b""
    if args.dev != "-":
        fields += attr_str(A_HEADER_DEV_NAME, args.dev)
    if args.index is not None:
        fields += attr(A_HEADER_DEV_INDEX, struct.pack("=I", args.index))
    if args.flags is not None:
        fields += attr(A_HEADER_FLAGS, struct.pack("=I", args.flags))
    for kind, payload in args.header_attr:
        fields += attr(kind, payload)
    body = b""
    if not args.no_header:
        body += attr(A_HEADER | NLA_F_NESTED, fields)
    if not args.no_file:
        body += attr_str(A_FILE_NAME, args.file)
    if args.password is not None:
        body += attr(A_PASSWORD, struct.pack("=I", args.password))
    for kind, payload in args.attr:
        body += attr(kind, payload)
    for i in range(args.repeat):
        # Between repeats the next request goes at once (settling would
        # give the kernel time to free the device).
        last = i == args.repeat - 1
        if args.probe_on_signal:
            nl.probe_on_signal()
        for path, value in args.write_first:
            with open(path, "w") as f:
                f.write(value)
        rc = flash_once(nl, fid, body, args.timeout, args.fail_nth, check_after=last)
        if rc:
            return rc
    return 0


def send_failing(nl, fid, body, fail_nth, cmd=MSG_FLASH, flags=NLM_F_REQUEST | NLM_F_ACK):
    """Sends the request with the kernel's fault injection set to fail
    the fail_nth-th allocation this thread makes in the request (the
    kernel counts those its failslab/fail_page_alloc stack filters let
    through); prints how many were left when the request was done
    (0: one was failed)."""
    path = "/proc/thread-self/fail-nth"
    with open(path, "w") as f:
        f.write(str(fail_nth))
    try:
        return nl.send(fid, cmd, body, flags)
    finally:
        with open(path) as f:
            left = int(f.read())
        with open(path, "w") as f:
            f.write("0")
        print(f"fail-nth left={left}", flush=True)


def settle(nl, fid, prefix=False):
    """After a terminal outcome: one round trip to the genetlink
    controller, printing the flash notifications that come before its
    answer. The kernel queues this socket's messages in order, so any
    notification sent before the controller answered is seen: a second
    terminal one shows as a second status line, which the tests count."""
    seq = nl.send(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, attr_str(CTRL_ATTR_FAMILY_NAME, "nlctrl"))
    for kind, _, rseq, payload in nl.messages(10):
        if rseq == seq and kind in (GENL_ID_CTRL, NLMSG_ERROR):
            return
        if kind == fid and payload[0] == MSG_FLASH:
            _, dev, line = describe(payload)
            print(f"{dev} {line}" if prefix else line, flush=True)
    print("no answer from the genetlink controller")


def flash_once(nl, fid, body, timeout, fail_nth=None, check_after=True):
    """Sends one request and follows it to its end (see flash); with
    check_after, then settles (any notification after the outcome is
    printed)."""
    if fail_nth:
        seq = send_failing(nl, fid, body, fail_nth)
    else:
        seq = nl.send(fid, MSG_FLASH, body)
    rc = 3
    probe = None
    for kind, flags, rseq, payload in nl.messages(timeout):
        # SIGUSR1 (--probe-on-signal): a round trip to the genetlink
        # controller, its answer printed in the order it comes: what the
        # kernel sent this socket before it comes before it.
        if kind == WAKE:
            probe = nl.send(GENL_ID_CTRL, CTRL_CMD_GETFAMILY,
                            attr_str(CTRL_ATTR_FAMILY_NAME, "nlctrl"))
            continue
        if probe is not None and rseq == probe and kind in (GENL_ID_CTRL, NLMSG_ERROR):
            print("probe answered", flush=True)
            probe = None
            continue
        if kind == NLMSG_ERROR and rseq == seq:
            code, msg = nl.error(flags, payload)
            if code:
                # EOPNOTSUPP and ENOTSUP are the same number on Linux;
                # say it as the kernel does.
                name = "EOPNOTSUPP" if code == errno.EOPNOTSUPP else errno.errorcode.get(code, code)
                print(f"error: {name}: {msg}")
                rc = 2
                break
            continue
        if kind != fid or payload[0] != MSG_FLASH:
            continue
        status, _, line = describe(payload)
        print(line, flush=True)
        if status in ("COMPLETED", "ERROR"):
            rc = 0 if status == "COMPLETED" else 1
            break
    if rc == 3:
        print("timeout")
    elif check_after:
        settle(nl, fid)
    return rc


def request(args, family):
    """Sends command COMMAND for DEV (its header, then the --attr
    attributes; --dump: a dump without a header), failing its
    --fail-nth-th allocation if asked, and waits for the answer: prints
    "reply" for each reply message, then "ok", or "error: NAME: message"
    for an error; exits 0, 2 on an error, 3 without an answer in
    --timeout seconds. With --each-allocation, fails each allocation of
    the request in turn (every --stride-th: n = 1, 1 + STRIDE, ...) until
    one makes fewer than n: each must be answered, and the same request
    then answered cleanly (nothing it claimed kept); prints how many
    allocations it made and exits 0, or prints the failure and exits 1."""
    nl = Genl()
    fid, _ = nl.resolve(family)
    body = b""
    flags = NLM_F_REQUEST | NLM_F_ACK
    if args.dump:
        flags |= 0x300  # NLM_F_DUMP
    else:
        body = attr(A_HEADER | NLA_F_NESTED, attr_str(A_HEADER_DEV_NAME, args.dev))
    for kind, payload in args.attr:
        body += attr(kind, payload)

    def once(fail_nth=None):
        """The answer's lines and exit code."""
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = request_once(nl, fid, args.command, body, flags, args.timeout, fail_nth)
        return rc, out.getvalue().splitlines()

    if not args.each_allocation:
        rc, lines = once(args.fail_nth)
        print("\n".join(lines))
        return rc
    for n in range(1, 101, args.stride):
        rc, lines = once(n)
        left = int(next((ln.split("=")[1] for ln in lines if ln.startswith("fail-nth left=")), -1))
        if rc > 2 or left < 0 or not any(re.match(r"ok$|error: E[A-Z]+: ", ln) for ln in lines):
            print(f"allocation {n}: exit {rc}: {lines}")
            return 1
        rc, lines = once()
        if rc:
            print(f"after allocation {n}: exit {rc}: {lines}")
            return 1
        if left > 0:
            print(f"allocations={n - left}")
            return 0
    print("more than 100 allocations")
    return 1


def request_once(nl, fid, command, body, flags, timeout, fail_nth=None):
    """One request (see request)."""
    if fail_nth:
        seq = send_failing(nl, fid, body, fail_nth, command, flags)
    else:
        seq = nl.send(fid, command, body, flags)
    for kind, rflags, rseq, payload in nl.messages(timeout, tell_lost=True):
        if kind is None:
            # The kernel could not allocate the answer: the socket says so.
            print("error: ENOBUFS: the answer was lost")
            return 2
        if rseq != seq:
            continue
        if kind == NLMSG_ERROR:
            code, msg = nl.error(rflags, payload)
            if code:
                print(f"error: {errno.errorcode.get(code, code)}: {msg}")
                return 2
            print("ok")
            return 0
        if kind == NLMSG_DONE:
            print("ok")
            return 0
        if kind == fid:
            print("reply", flush=True)
    print("timeout")
    return 3


def handover(args, family):
    """Requests a flash, closes the socket once it started, binds a new
    socket to the same port and counts the notifications that reach it
    until the monitor group sees the flash end: they must be none."""
    watcher = Genl()
    fid, groups = watcher.resolve(family)
    watcher.sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, groups["monitor"])
    nl = Genl()
    header = attr(A_HEADER | NLA_F_NESTED, attr_str(A_HEADER_DEV_NAME, args.dev))
    seq = nl.send(fid, MSG_FLASH, header + attr_str(A_FILE_NAME, args.file))
    started = False
    for kind, flags, rseq, payload in nl.messages(args.timeout):
        if kind == NLMSG_ERROR and rseq == seq:
            code, msg = nl.error(flags, payload)
            if code:
                print(f"error: {errno.errorcode.get(code, code)}: {msg}")
                return 2
        elif kind == fid and describe(payload)[0] == "STARTED":
            started = True
            break
    if not started:
        print("no STARTED")
        return 3
    portid = nl.sock.getsockname()[0]
    nl.sock.close()
    heir = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    heir.bind((portid, 0))
    print(f"port {portid} rebound", flush=True)
    heir.setblocking(False)
    ended = False
    for kind, _, _, payload in watcher.messages(args.timeout):
        if kind == fid and describe(payload)[0] in ("COMPLETED", "ERROR"):
            ended = True
            break
    stolen = 0
    try:
        while True:
            stolen += len(heir.recv(65536)) > 0
    except BlockingIOError:
        pass
    print(f"ended={ended} stolen={stolen}")
    return 0 if ended and stolen == 0 else 1


def each_request(args, family):
    """Fails each host request of a flash in turn, with the errno ERRNO
    (or "short": a read returns half its bytes), through the emulated
    port's fault injection (its debugfs directory DIR: fail_request,
    fail_request_errno): the n-th request of a flash for n = 1,
    1 + STRIDE, ..., until a flash makes fewer than n. Each faulted flash
    must end with one terminal outcome (COMPLETED, or ERROR with a
    message; only COMPLETED with --must-complete) and leave a valid image
    running (DIR/banks); a clean flash must then complete. Prints one
    line per failure and, at the end, how many requests a flash made;
    exits 0 if every one held."""
    nl = Genl()
    fid, _ = nl.resolve(family)
    header = attr(A_HEADER | NLA_F_NESTED, attr_str(A_HEADER_DEV_NAME, args.dev))
    body = header + attr_str(A_FILE_NAME, args.file)
    knob = lambda name: os.path.join(args.dir, name)

    def quiet_flash():
        """One flash; its exit code and the lines it printed."""
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = flash_once(nl, fid, body, args.timeout)
        return rc, out.getvalue().splitlines()

    with open(knob("fail_request_errno"), "w") as f:
        f.write(str(args.errno))
    outcomes = {}
    for n in range(1, args.limit + 1, args.stride):
        with open(knob("fail_request"), "w") as f:
            f.write(str(n))
        rc, lines = quiet_flash()
        with open(knob("fail_request")) as f:
            left = int(f.read())
        with open(knob("fail_request"), "w") as f:
            f.write("0")
        with open(knob("banks")) as f:
            banks = f.read()
        # One terminal outcome: completed, failed with a message, or
        # refused with one.
        terminal = [ln for ln in lines if re.match(r"status=(COMPLETED|ERROR)|error: ", ln)]
        if rc == 3 or len(terminal) != 1 or \
                not re.match(r"status=(COMPLETED|ERROR .*msg=.)|error: E[A-Z]+: .", terminal[0]):
            print(f"request {n}: not one terminal outcome (exit {rc}): {lines}")
            return 1
        if args.must_complete and rc:
            print(f"request {n}: not completed (exit {rc}): {lines}")
            return 1
        if not re.search(r"^[AB]: valid .*running", banks, re.M):
            print(f"request {n}: no valid image runs: {banks}")
            return 1
        if left:
            # The flash made fewer than n requests: each one was failed.
            print(f"requests<{n} " + " ".join(f"{k}={v}" for k, v in sorted(outcomes.items())))
            return 0
        key = ["completed", "failed", "refused"][rc]
        outcomes[key] = outcomes.get(key, 0) + 1
        # A flash that ended after Run leaves the module's reset to come
        # (DelayToReset): it would cut the next flash's first command.
        # The module is let settle first, as any host would.
        end = time.monotonic() + 60
        while time.monotonic() < end:
            with open(knob("state")) as f:
                state = f.read()
            if "reset-pending" not in state and not state.startswith("resetting"):
                break
            time.sleep(0.01)
        rc, lines = quiet_flash()
        if rc:
            print(f"after request {n} failed: clean flash exit {rc}: {lines}")
            return 1
    print(f"more than {args.limit} requests in a flash")
    return 1


def random_attrs(rnd, depth=0):
    """Attributes of random types, lengths and contents, some nested,
    some with a NUL-terminated string, some with a length field that
    lies."""
    out = b""
    for _ in range(rnd.randrange(0, 5)):
        kind = rnd.choice([0, 1, 2, 3, 4, 5, 7, 60, 0x7fff]) | (NLA_F_NESTED if rnd.random() < 0.2 else 0)
        r = rnd.random()
        if r < 0.25 and depth < 3:
            payload = random_attrs(rnd, depth + 1)
        elif r < 0.45:
            payload = bytes(rnd.choice(b"abc./-0") for _ in range(rnd.randrange(0, 300))) + b"\0"
        else:
            payload = bytes(rnd.randrange(256) for _ in range(rnd.choice([0, 1, 2, 4, 8, rnd.randrange(300)])))
        a = attr(kind, payload)
        if rnd.random() < 0.1:
            # A length that says more or less than there is.
            a = struct.pack("=HH", rnd.randrange(65536), kind) + a[4:]
        out += a
    return out


def mutate(rnd, body):
    """A valid request's attributes with a few bytes changed, cut,
    repeated or inserted."""
    b = bytearray(body)
    for _ in range(rnd.randrange(1, 6)):
        r = rnd.random()
        if not b or r < 0.1:
            b += bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 16)))
        elif r < 0.5:
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        elif r < 0.7:
            del b[rnd.randrange(len(b)):]
        elif r < 0.85:
            i = rnd.randrange(len(b))
            b[i:i] = b[i:i + rnd.randrange(1, 32)]
        else:
            i = rnd.randrange(len(b))
            b[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 8)))
    return bytes(b)


def fuzz(args, family):
    """Sends COUNT random and mutated requests; each must be answered
    (an error or an ack) within 10 s. Requests that start a flash are let
    run; the next ones get EBUSY meanwhile. Prints the tally by outcome;
    exits 0 if every request was answered, 1 otherwise."""
    import random
    nl = Genl()
    fid, _ = nl.resolve(family)
    rnd = random.Random(args.seed)
    dev = attr(A_HEADER | NLA_F_NESTED, attr_str(A_HEADER_DEV_NAME, args.dev))
    valid = dev + attr_str(A_FILE_NAME, args.file)
    tally = {}
    for i in range(args.count):
        r = rnd.random()
        if r < 0.5:
            body = mutate(rnd, valid)
        elif r < 0.8:
            body = (dev if rnd.random() < 0.5 else b"") + random_attrs(rnd)
        else:
            body = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 200)))
        cmd = MSG_FLASH if rnd.random() < 0.9 else rnd.randrange(256)
        version = 1 if rnd.random() < 0.9 else rnd.randrange(256)
        flags = NLM_F_REQUEST | NLM_F_ACK
        if rnd.random() < 0.05:
            flags |= 0x300  # NLM_F_DUMP on an operation without dump
        seq = nl.send(fid, cmd, body, flags, version)
        outcome = None
        for kind, fl, rseq, payload in nl.messages(10):
            if kind == NLMSG_ERROR and rseq == seq:
                code, _ = nl.error(fl, payload)
                outcome = errno.errorcode.get(code, str(code)) if code else "accepted"
                break
        if outcome is None:
            print(f"request {i}: no answer in 10 s: cmd={cmd} version={version} "
                  f"flags={flags:#x} body={body.hex()}")
            return 1
        tally[outcome] = tally.get(outcome, 0) + 1
    print(" ".join(f"{k}={v}" for k, v in sorted(tally.items())))
    return 0


def monitor(args, family):
    nl = Genl()
    fid, groups = nl.resolve(family)
    nl.sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, groups["monitor"])
    print("monitoring", flush=True)
    ended = 0
    for kind, _, _, payload in nl.messages(args.timeout):
        if kind != fid or payload[0] != MSG_FLASH:
            continue
        status, dev, line = describe(payload)
        print(f"{dev} {line}", flush=True)
        if status in ("COMPLETED", "ERROR"):
            ended += 1
            if ended == args.count:
                settle(nl, fid, prefix=True)
                return 0
    return 3


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--family", default="cmis_fw")
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("flash")
    f.add_argument("dev")
    f.add_argument("file")
    f.add_argument("--password", type=lambda s: int(s, 0))
    f.add_argument("--timeout", type=float, default=300)
    f.add_argument("--index", type=int)
    f.add_argument("--flags", type=lambda s: int(s, 0))
    f.add_argument("--no-header", action="store_true")
    f.add_argument("--no-file", action="store_true")
    # Raw attributes, TYPE:HEX, for malformed requests: at the top level
    # and inside the request header.
    f.add_argument("--attr", type=raw_attr, action="append", default=[])
    f.add_argument("--header-attr", type=raw_attr, action="append", default=[])
    # Fail the N-th allocation of the request (fault injection, faults.sh).
    f.add_argument("--fail-nth", type=int)
    # Write VALUE to the file PATH just before each request (an emulator
    # setting that must start with it: this process's start-up under TCG
    # takes longer than the setting may last).
    f.add_argument("--write-first", metavar="PATH=VALUE", action="append", default=[],
                   type=lambda s: tuple(s.split("=", 1)))
    # On SIGUSR1, a round trip to the genetlink controller, "probe
    # answered" printed when it is back (what came before it was sent
    # before it).
    f.add_argument("--probe-on-signal", action="store_true")
    f.add_argument("--repeat", type=int, default=1,
                   help="flash again as soon as each flash completes")
    r = sub.add_parser("request")
    r.add_argument("dev")
    r.add_argument("command", type=int)
    r.add_argument("--attr", type=raw_attr, action="append", default=[])
    r.add_argument("--dump", action="store_true")
    r.add_argument("--fail-nth", type=int)
    r.add_argument("--each-allocation", action="store_true")
    r.add_argument("--stride", type=int, default=1)
    r.add_argument("--timeout", type=float, default=60)
    h = sub.add_parser("handover")
    h.add_argument("dev")
    h.add_argument("file")
    h.add_argument("--timeout", type=float, default=300)
    z = sub.add_parser("fuzz")
    z.add_argument("dev")
    z.add_argument("file")
    z.add_argument("--count", type=int, default=10000)
    z.add_argument("--seed", type=int, default=1)
    e = sub.add_parser("each-request")
    e.add_argument("dev")
    e.add_argument("file")
    e.add_argument("--dir", required=True, help="the port's cmis_emu debugfs directory")
    e.add_argument("--errno", required=True, help="5, 19, 110 or short")
    e.add_argument("--must-complete", action="store_true",
                   help="each faulted flash must complete (a retried access)")
    e.add_argument("--stride", type=int, default=1)
    e.add_argument("--limit", type=int, default=1000)
    e.add_argument("--timeout", type=float, default=120)
    m = sub.add_parser("monitor")
    m.add_argument("--count", type=int, default=1)
    m.add_argument("--timeout", type=float, default=300)
    args = p.parse_args()
    try:
        run = {"flash": flash, "handover": handover, "monitor": monitor, "fuzz": fuzz,
               "each-request": each_request, "request": request}[args.cmd]
        return run(args, args.family)
    except OSError as e:
        print(f"error: {e}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
