"""labsnn's names, imported on first use: ``lazy_loader.attach_stub`` reads this stub, and editors see the names."""

from .dynamics.flops import ann_flops as ann_flops
from .dynamics.flops import snn_flops as snn_flops
from .dynamics.neuron import LIF as LIF
from .dynamics.neuron import fast_sigmoid as fast_sigmoid
from .dynamics.neuron import lif_sequence as lif_sequence
from .dynamics.neuron import lif_step as lif_step
from .model import ANN as ANN
from .model import SNN as SNN
from .model import SNNStack as SNNStack
from .running.config import RunConfig as RunConfig
