"""Real ImageNet CNNs as layer graphs, for the widths of the paper's Table 1 (no weights).

:mod:`~theory_lab.zoo.graph` holds the graph, its builder and shape inference;
the network modules build VGG, ResNet, GoogLeNet, SqueezeNet, Inception V3/V4,
Xception and ENet from their published layouts; :mod:`~theory_lab.zoo.table1`
compares their widths with ImageNet's ``N`` and the paper's Table 1.

Example:
    >>> from theory_lab import zoo
    >>> net = zoo.network("vgg-d")
    >>> net.n1, net.max_width
    (3211264, (3211264, 'conv1_1'))
"""

from theory_lab.zoo.graph import Builder, Layer, Network, Node
from theory_lab.zoo.table1 import (IMAGENET_N, PAPER_TABLE1, WidthRow, entries, from_architecture, network,
                                   network_names, table1)

__all__ = ["Builder", "Layer", "Network", "Node", "IMAGENET_N", "PAPER_TABLE1", "WidthRow", "entries",
           "from_architecture", "network", "network_names", "table1"]
