"""The lab's model of a spiking network as pure functions: the LIF neuron and its
surrogate gradients (``neuron``), the input encoders (``encoders``), the losses on
output rates (``losses``) and the ANN and SNN operation counts (``flops``). Nothing here
knows of kernels, backends or training."""
