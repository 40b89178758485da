"""Speed and memory of xlosses against the native peers.

``python -m benchmarks`` times every loss of :mod:`benchmarks.cases` against
its peer (optax under ``jax.jit``, ``torch.nn.functional`` eager, a plain
NumPy/SciPy baseline, torch CUDA for CuPy) on the same inputs in the same
process, interleaved, and reports the median ratio ``xlosses / peer`` per
mode, loss, size and dtype, with peak extra memory where the library reports
it.  Results go to ``./benchmark-results/`` as a table, JSON and a PNG.
``--gpu`` adds the GPU modes and the bandwidth measurement of a large
cross-entropy (see :mod:`benchmarks.gpu`).  Benchmarks never run as timed
tests; ``--tiny`` is a few-second smoke run for CI.
"""
