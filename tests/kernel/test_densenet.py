"""7.7 densenet: the reference scores 100%, alternative correct answers pass, and each plausible
wrong answer loses exactly the points of the checks that should catch it.

Everything is graded by structure on the meta device (the three deepest DenseNets by the
parameters their modules define); no network is trained.
"""

from __future__ import annotations

from assignment_suite import missing_names_test, standard_tests

NB = "densenet.ipynb"


test_missing_names_are_reported_not_crashed = missing_names_test(
    "densenet",
    {
        "dense-block-growth": "DenseBlock",
        "densenet-169-201-264": "densenet_imagenet",
    },
)


# ---------------------------------------------------------------- texts of the solved notebook
DENSE_BLOCK = """        self.net = nn.Sequential(*[conv_block(input_channels + i * num_channels, num_channels)
                                   for i in range(num_convs)])

    def forward(self, X):
        for blk in self.net:
            X = torch.cat((X, blk(X)), dim=1)
        return X"""
TRANSITION_CONV = (
    "        nn.Conv2d(input_channels, num_channels, kernel_size=1),\n        nn.AvgPool2d(kernel_size=2, stride=2))"
)
CONV_BLOCK = """        nn.BatchNorm2d(input_channels), nn.ReLU(),
        nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1))"""
BOOK_TRANSITIONS = """            blks.append(transition_block(num_channels, num_channels // 2))
            num_channels = num_channels // 2"""
BOTTLENECK_LAYER = """        nn.BatchNorm2d(input_channels), nn.ReLU(),
        nn.Conv2d(input_channels, 4 * growth_rate, kernel_size=1, bias=False),
        nn.BatchNorm2d(4 * growth_rate), nn.ReLU(),
        nn.Conv2d(4 * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False))"""
PAPER_TRANSITION = """                       nn.Conv2d(num_channels, num_channels // 2, kernel_size=1, bias=False),
                       nn.AvgPool2d(kernel_size=2, stride=2)]
            num_channels //= 2"""
DENSE_MLP = """        self.hidden = nn.ModuleList(nn.Linear(num_inputs + i * growth, growth) for i in range(num_layers))
        self.out = nn.Linear(num_inputs + num_layers * growth, num_outputs)

    def forward(self, X):
        for layer in self.hidden:
            X = torch.cat((X, torch.relu(layer(X))), dim=1)
        return self.out(X)"""

# ---------------------------------------------------------------- correct in another way
DENSE_BLOCK_FEATURE_LIST = """        self.units = nn.ModuleList(conv_block(input_channels + i * num_channels, num_channels)
                                   for i in range(num_convs))

    def forward(self, X):
        features = [X]
        for unit in self.units:
            features.append(unit(torch.cat(features, dim=1)))
        return torch.cat(features[::-1], dim=1)"""

DENSE_MLP_FEATURE_LIST = """        self.hidden = nn.ModuleList(nn.Sequential(nn.Linear(num_inputs + i * growth, growth), nn.ReLU())
                                    for i in range(num_layers))
        self.out = nn.Linear(num_inputs + num_layers * growth, num_outputs)

    def forward(self, X):
        features = [X]
        for layer in self.hidden:
            features.append(layer(torch.cat(features, dim=1)))
        return self.out(torch.cat(features, dim=1))"""

ALTERNATIVES = {
    # concatenation of a list of all earlier features (newest first); a pooling window whose
    # stride is PyTorch's default (the window)
    "feature-lists-and-default-pool-stride": {
        DENSE_BLOCK: DENSE_BLOCK_FEATURE_LIST,
        "nn.AvgPool2d(kernel_size=2, stride=2))": "nn.AvgPool2d(2))",
        DENSE_MLP: DENSE_MLP_FEATURE_LIST,
    },
    # the paper's networks with the book's convolutions (with bias): counted without the biases
    "paper-networks-with-convolution-biases": {", bias=False)": ")"},
}

# ---------------------------------------------------------------- plausible wrong answers
WRONG = {
    # transition_block ignores num_channels: the network's next dense block cannot take its output
    "transition-keeps-the-channels": (
        {
            TRANSITION_CONV: TRANSITION_CONV.replace(
                "nn.Conv2d(input_channels, num_channels,", "nn.Conv2d(input_channels, input_channels,"
            )
        },
        {"transition-block": 2, "densenet": 2, "densenet-macs": 1},
    ),
    # the network's transitions keep every channel (and the blocks are built for them)
    "densenet-without-compression": (
        {BOOK_TRANSITIONS: "            blks.append(transition_block(num_channels, num_channels))"},
        {"densenet": 2, "densenet-macs": 1},
    ),
    "transition-with-max-pooling": (
        {"nn.AvgPool2d(kernel_size=2, stride=2))": "nn.MaxPool2d(kernel_size=2, stride=2))"},
        {"transition-block": 2},
    ),
    # the growth is applied to the input channels: the block cannot run beyond its first unit
    "growth-applied-to-the-input-channels": (
        {
            DENSE_BLOCK: DENSE_BLOCK.replace(
                "conv_block(input_channels + i * num_channels,", "conv_block(input_channels * (i + 1),"
            )
        },
        {"dense-block-shapes": 2, "dense-block-growth": 1, "densenet": 2, "densenet-macs": 1},
    ),
    # convolution first, batch norm of its output after it
    "conv-block-convolution-first": (
        {
            CONV_BLOCK: """        nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1),
        nn.BatchNorm2d(num_channels), nn.ReLU())"""
        },
        {"conv-block": 1, "dense-block-shapes": 2, "dense-block-growth": 1, "densenet": 2},
    ),
    "paper-networks-without-bottleneck": (
        {
            BOTTLENECK_LAYER: """        nn.BatchNorm2d(input_channels), nn.ReLU(),
        nn.Conv2d(input_channels, growth_rate, kernel_size=3, padding=1, bias=False))"""
        },
        {"densenet121": 3, "densenet-169-201-264": 2},
    ),
    # two unrelated mistakes, each caught by its own checks: the paper's transitions do not
    # compress; each layer of the MLP sees only the previous layer's output
    "paper-without-compression-and-a-plain-mlp": (
        {
            PAPER_TRANSITION: """                       nn.Conv2d(num_channels, num_channels, kernel_size=1, bias=False),
                       nn.AvgPool2d(kernel_size=2, stride=2)]""",
            DENSE_MLP: """        self.hidden = nn.ModuleList(nn.Linear(num_inputs if i == 0 else growth, growth) for i in range(num_layers))
        self.out = nn.Linear(growth, num_outputs)

    def forward(self, X):
        for layer in self.hidden:
            X = torch.relu(layer(X))
        return self.out(X)""",
        },
        {"densenet121": 3, "densenet-169-201-264": 2, "dense-mlp": 1, "dense-mlp-inputs": 1},
    ),
}

DIAGNOSED = {
    "transition-keeps-the-channels": {"transition-block": "keeps the 23 input channels"},
    "densenet-without-compression": {"densenet": "The transition blocks keep the number of channels"},
    "transition-with-max-pooling": {"transition-block": "max pooling"},
    "growth-applied-to-the-input-channels": {"dense-block-growth": "The growth is applied to the input channels"},
    "paper-networks-without-bottleneck": {
        "densenet121": "the paper's have a bottleneck",
        "densenet-169-201-264": "the paper's have a bottleneck",
    },
    "paper-without-compression-and-a-plain-mlp": {
        "densenet121": "DenseNet-BC compresses them by half",
        "dense-mlp-inputs": "each layer sees only the previous layer's output",
    },
}

(
    grade,
    test_reference_scores_full_marks,
    test_alternative_correct_answers_pass,
    test_plausible_wrong_answer_loses_exactly_its_points,
    test_every_public_diagnosis_is_met_by_a_wrong_answer,
) = standard_tests(
    "densenet",
    NB,
    16,
    ["ex1-average-pooling", "ex2-fewer-parameters", "ex3-memory", "ex5-house-prices"],
    ALTERNATIVES,
    WRONG,
    DIAGNOSED,
)
