"""How a stack of networks computes, behind one explicit backend (``backend``): the
compiled C loops (``kernel_build`` builds them, ``kernels`` loads them, ``ops`` holds them
as typed ``torch.ops.labsnn`` operators), Bernoulli input as events (``spike_events``)
and the forward and backward passes of a stack on either backend (``stack``,
``compiled``). The model and the training loop ask the backend which runs."""
