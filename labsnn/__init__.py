"""labsnn: the spiking-neural-network lab 1 as a small, tested PyTorch package."""

from labsnn.config import RunConfig
from labsnn.flops import ann_flops, snn_flops
from labsnn.model import ANN, SNN, SNNStack
from labsnn.neuron import LIF, fast_sigmoid, lif_sequence, lif_step

__all__ = ["ANN", "LIF", "RunConfig", "SNN", "SNNStack", "ann_flops", "fast_sigmoid", "lif_sequence", "lif_step", "snn_flops"]
__version__ = "0.1.0"
