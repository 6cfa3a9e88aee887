"""The benchmark of the paper's Table 2: data reader, runner, and paper reference numbers.

``mmimdb.benchmark.data`` needs only h5py and numpy; the runner imports torch when it runs.
"""
