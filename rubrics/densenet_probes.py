"""Kernel-side probes for 7.7 (run INSIDE the student's kernel).

The structure checks run a network; a dense block whose convolutions expect the wrong number of
input channels does not run at all, and torch's error ("expected input to have 13 channels,
but got 23") does not say which part of the channel bookkeeping is wrong. `dense_block_plan`
therefore only builds the block (on the meta device, nothing is allocated or run) and lists
the convolutions and batch norms it defines, with their channel counts. There are no expected
values here: rubrics/densenet_checks.py compares the plan with the growth-rate rule.
"""


def dense_block_plan(ctx, name, *args):
    """Build `name(*args)` under torch.device("meta") and list, in definition order, its
    Conv2d layers as ["Conv2d", in_channels, out_channels] and its BatchNorm2d layers as
    ["BatchNorm2d", num_features]."""
    torch = __import__("torch")
    nn = __import__("torch.nn").nn
    module_class = ctx.library("torch.nn.Module")
    factory = ctx.get(name)
    if not callable(factory):
        raise TypeError(f"`{name}` should be a class that builds a block, not a {type(factory).__name__}")
    with torch.device("meta"):
        block = factory(*args)
    if not isinstance(block, module_class):
        raise TypeError(f"{name}(...) should be a torch.nn.Module, not a value of type {type(block).__name__}")
    plan = []
    for module in module_class.modules(block):
        if type(module) is nn.Conv2d:
            plan.append(["Conv2d", int(module.in_channels), int(module.out_channels)])
        elif type(module) is nn.BatchNorm2d:
            plan.append(["BatchNorm2d", int(module.num_features)])
    return plan


def module_plan(ctx, name, *args):
    """Call the factory `name(*args)` under torch.device("meta") (nothing is allocated and
    nothing is run) and list every module that holds parameters of its own, in definition
    order: {type, torch (torch.nn's own class), config (channels, features, kernel, groups),
    params (own parameter shapes by name)}. The grader checks the shapes against the
    hyper-parameters of torch.nn's layers and counts the parameters itself."""
    torch = __import__("torch")
    nn = __import__("torch.nn").nn
    module_class = ctx.library("torch.nn.Module")
    factory = ctx.get(name)
    if not callable(factory):
        raise TypeError(f"`{name}` should be a function that returns a network, not a {type(factory).__name__}")
    with torch.device("meta"):
        net = factory(*args)
    if not isinstance(net, module_class):
        raise TypeError(f"{name}(...) should be a torch.nn.Module, not a value of type {type(net).__name__}")
    keys = ("in_channels", "out_channels", "kernel_size", "groups", "num_features", "in_features", "out_features")
    plan = []
    for module in module_class.modules(net):
        params = {k: [int(d) for d in p.shape] for k, p in module_class.named_parameters(module, recurse=False)}
        if not params:
            continue
        kind = type(module)
        config = {}
        for key in keys:
            value = getattr(module, key, None)
            if isinstance(value, (tuple, list)):
                config[key] = [int(v) for v in value]
            elif isinstance(value, int):
                config[key] = int(value)
        plan.append(
            {
                "type": kind.__name__,
                "torch": getattr(nn, kind.__name__, None) is kind,
                "config": config,
                "params": params,
            }
        )
    return plan
