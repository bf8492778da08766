"""One rank of a 4-process gloo job whose store is the TCPStore server at 127.0.0.1:PORT.

argv: PORT RANK WORLD. Prints "ok rank R sum S" after all_reduce and barrier.
"""
import datetime
import sys

import torch
import torch.distributed as dist

port, rank, world = (int(x) for x in sys.argv[1:4])
store = dist.TCPStore("127.0.0.1", port, world, False, timeout=datetime.timedelta(seconds=60))
dist.init_process_group("gloo", store=store, rank=rank, world_size=world)
t = torch.tensor([float(rank + 1)])
dist.all_reduce(t)
dist.barrier()
expected = world * (world + 1) / 2
assert t.item() == expected, (t.item(), expected)
print("ok rank", rank, "sum", int(t.item()), flush=True)
dist.destroy_process_group()
