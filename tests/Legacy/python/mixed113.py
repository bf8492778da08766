"""The 1.13 half of a mixed-version check: reads a key a 2.10 client set, sets one for it to read.

argv: PORT. Prints "ok read <value>" and "ok wrote".
"""
import datetime
import sys

import torch.distributed as dist

s = dist.TCPStore("127.0.0.1", int(sys.argv[1]), None, False, timeout=datetime.timedelta(seconds=20))
print("ok read", s.get("from-2.10").decode(), flush=True)
s.set("from-1.13", "hello from 1.13")
assert s.add("shared-counter", 10) == 11  # the 2.10 client added 1 first
print("ok wrote", flush=True)
