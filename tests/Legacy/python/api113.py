"""The PyTorch 1.13 TCPStore Python API against a server on 127.0.0.1:PORT (argv[1]).

Prints "ok <check>" for each check that passed; any failure raises (exit status 1).
Several checks share one process because importing torch takes seconds.
"""
import datetime
import sys
import threading
import time

import torch
import torch.distributed as dist

port = int(sys.argv[1])
short = datetime.timedelta(seconds=1)


def store(world_size=None):
    return dist.TCPStore("127.0.0.1", port, world_size, False, timeout=datetime.timedelta(seconds=20))


def ok(name):
    print("ok", name, flush=True)


assert torch.__version__.startswith("1.13"), torch.__version__
ok("version " + torch.__version__)

a = store(1)  # world_size 1: construction sends ADD init/ 1
b = store()

a.set("k", "v1")
assert a.get("k") == b"v1" and b.get("k") == b"v1"
a.set("k", b"\x00\xffbin")
assert b.get("k") == b"\x00\xffbin"
ok("set_get")

# get blocks until another client sets the key.
got = {}
reader = threading.Thread(target=lambda: got.update(v=b.get("later")))
reader.start()
time.sleep(0.5)
assert reader.is_alive(), "get returned before the key was set"
a.set("later", "arrived")
reader.join(10)
assert got.get("v") == b"arrived", got
ok("get_blocks_until_set")

assert a.add("n", 5) == 5 and b.add("n", -7) == -2 and a.get("n") == b"-2"
ok("add")

assert a.compare_set("cas", "", "first") == b"first"
assert a.compare_set("cas", "wrong", "x") == b"first"
assert a.compare_set("cas", "first", "second") == b"second"
assert a.compare_set("missing", "expected", "x") == b"expected"
ok("compare_set")

a.wait(["k", "n"])
a.wait(["k"], short)
try:
    a.wait(["never"], short)
    raise AssertionError("wait on a missing key returned")
except RuntimeError as e:
    assert "timeout" in str(e).lower(), e
ok("wait")

# The 1.13 wait timeout cancels nothing on the wire. The client's next request tells the server the
# wait is over, so the key appearing later must not send this connection a stray STOP_WAITING.
try:
    b.wait(["late"], short)
    raise AssertionError("wait returned")
except RuntimeError:
    pass
b.set("after-timeout", "1")
a.set("late", "now")
time.sleep(0.3)
assert b.get("after-timeout") == b"1" and b.get("late") == b"now" and b.add("n", 2) == 0
ok("wait_timeout_then_more_requests")

before = a.num_keys()
a.set("fresh-key", "x")
assert a.num_keys() == before + 1
ok("num_keys")

assert a.delete_key("fresh-key") is True
assert a.delete_key("fresh-key") is False
assert a.num_keys() == before
ok("delete_key")
