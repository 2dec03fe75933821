"""Kernel-side probes for 6.5 (run INSIDE the student's kernel; no expected values here).

`with_pooling_disabled` calls one of the student's functions while PyTorch's pooling
functions and its max/mean reductions raise an error, and returns whatever the function
returned. The grader then compares that value with the reference. It is how the rubric
tells "average/max pooling built from convolutions" apart from "called the pooling layer".
"""

_RULED_OUT = {
    "torch.nn.functional": [
        "avg_pool1d",
        "avg_pool2d",
        "avg_pool3d",
        "max_pool1d",
        "max_pool2d",
        "max_pool3d",
        "max_pool1d_with_indices",
        "max_pool2d_with_indices",
        "max_pool3d_with_indices",
        "adaptive_avg_pool1d",
        "adaptive_avg_pool2d",
        "adaptive_avg_pool3d",
        "adaptive_max_pool1d",
        "adaptive_max_pool2d",
        "adaptive_max_pool3d",
        "lp_pool1d",
        "lp_pool2d",
        "fractional_max_pool2d",
    ],
    "torch": [
        "avg_pool1d",
        "max_pool1d",
        "max_pool2d",
        "max_pool3d",
        "adaptive_avg_pool1d",
        "adaptive_max_pool1d",
        "max",
        "amax",
        "maximum",
        "fmax",
        "mean",
        "nanmean",
    ],
    "torch.Tensor": ["max", "amax", "maximum", "fmax", "mean", "nanmean"],
}


def _ruled_out(what):
    def refuse(*args, **kwargs):
        raise RuntimeError(f"{what} is ruled out in this exercise: build the pooling from convolutions (and ReLU)")

    return refuse


def with_pooling_disabled(ctx, name, *args):
    import torch
    import torch.nn.functional

    function = ctx.get(name)
    owners = {"torch.nn.functional": torch.nn.functional, "torch": torch, "torch.Tensor": torch.Tensor}
    saved = []
    try:
        for owner_name, attrs in _RULED_OUT.items():
            owner = owners[owner_name]
            for attr in attrs:
                if not hasattr(owner, attr):
                    continue
                own = attr in vars(owner)
                saved.append((owner, attr, own, vars(owner).get(attr)))
                setattr(owner, attr, _ruled_out(owner_name + "." + attr))
        return function(*args)
    finally:
        for owner, attr, own, value in reversed(saved):
            if own:
                setattr(owner, attr, value)
            else:
                delattr(owner, attr)
