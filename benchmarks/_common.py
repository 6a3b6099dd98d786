"""Helpers shared by the benchmark scripts (run as ``python benchmarks/NAME.py``)."""

import torch


def limit_threads(threads: int | None) -> None:
    """Give torch, scikit-learn's OpenMP/BLAS and faiss the same number of threads."""
    if threads is None:
        return
    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(threads)
    except ImportError:
        pass
    try:
        import faiss
        faiss.omp_set_num_threads(threads)
    except ImportError:
        pass
