"""Kernel-side probes for 7.4 GoogLeNet (run INSIDE the student's kernel; no expected values here).

`inception_path_labels` answers a question a structure description cannot: in which order
does the student's Inception block concatenate its four paths? Parameter counts, operation
counts and shapes are the same for every order, and the concatenation is a function call,
not a layer. The probe builds a small block with the rubric's channel numbers, chosen so that
the last convolution of each path has an output channel count of its own, sets every
convolution's weights to zero and the bias of each path's last convolution to that path's
label (the rubric hands over the pairs (out_channels, label)), and runs it on a tiny input:
each output channel is then a constant map holding the label of the path it came from. The
grader reads the order (and each path's channel count) off those labels and compares them with
the reference (rubrics/googlenet_checks.py).
"""


def inception_path_labels(ctx, config, labels, side):
    """Build `Inception(*config)`, label its paths through the biases of the convolutions
    (weights 0; bias = the label paired with the convolution's out_channels, 0 for any other),
    and return {"labels": the mean of each output channel, "unlabelled": convolutions without
    a bias, by out_channels} for a 1 x in_channels x side x side input of ones."""
    block_class = ctx.get("Inception")
    in_channels, c1, c2, c3, c4 = config
    block = block_class(in_channels, c1, list(c2), list(c3), c4)
    module_class = ctx.library("torch.nn.Module")
    conv_class = ctx.library("torch.nn.Conv2d")
    no_grad = ctx.library("torch.no_grad")
    ones = ctx.library("torch.ones")
    tensor_class = ctx.library("torch.Tensor")
    x = ones(1, in_channels, side, side)
    module_class.eval(block)
    with no_grad():
        block(x)  # materialises lazy layers (nn.LazyConv2d) before their weights are set
        label_of = {int(channels): float(label) for channels, label in labels}
        unlabelled = []
        for module in module_class.modules(block):
            if isinstance(module, conv_class):
                module.weight.zero_()
                if module.bias is None:
                    unlabelled.append(int(module.out_channels))
                else:
                    module.bias.fill_(label_of.get(int(module.out_channels), 0.0))
        out = block(x)
    if not isinstance(out, tensor_class) or out.dim() != 4:
        raise TypeError(f"Inception should return a 4-D tensor, got {type(out).__name__}")
    return {"labels": out[0].mean(dim=(1, 2)).tolist(), "unlabelled": unlabelled}
