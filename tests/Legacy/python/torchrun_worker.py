"""Worker of a torchrun (1.13) job: all_reduce over the process group torchrun set up."""
import os

import torch
import torch.distributed as dist

dist.init_process_group("gloo")
t = torch.tensor([1.0])
dist.all_reduce(t)
dist.barrier()
world = int(os.environ["WORLD_SIZE"])
assert t.item() == world, t.item()
print("ok worker", os.environ["RANK"], "of", world, "group_rank", os.environ["GROUP_RANK"], flush=True)
dist.destroy_process_group()
